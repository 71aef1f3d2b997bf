#!/usr/bin/env bash
# Runs the Python runtime client's tests with the host's python3 (any 3.11):
#   bash rootfs/python3.11/tests/run.sh [-k PATTERN] [unittest options]
set -euo pipefail
cd "$(dirname "$0")"
exec python3 -m unittest -v "$@" test_runtime test_json
