#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test. Run as root: the sandbox
# tests use real namespaces, cgroups and mounts (without root they are skipped, visibly).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
export PATH="/opt/swift/usr/bin:$PATH"
swift test "$@"
