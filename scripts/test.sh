#!/usr/bin/env bash
# The test command: installs what is missing, builds the runtimes the agent tests run functions
# on, builds, and runs every test. Run as root: the sandbox and agent tests use real namespaces,
# cgroups, mounts and processes (without root they are skipped, visibly).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# deploy/: YAML and manifests, options against the sources, systemd-analyze, the seccomp profile.
bash scripts/check-deploy.sh
export PATH="/opt/swift/usr/bin:$PATH"
# The store tests start their own PostgreSQL server; here a missing server is a failure, not a skip.
export CELLA_REQUIRE_POSTGRES=1
# Runtimes (debootstrap on the first run, cached by recipe after) and the awslambdaric bundle.
bash rootfs/build.sh python3.11 provided >/dev/null
bash scripts/fixtures.sh >/dev/null
# Cella's Python runtime client against a fake Runtime API.
bash rootfs/python3.11/tests/run.sh
swift build --build-tests
# Separate runs: the sandbox leak test counts the whole process's fds and children, which any
# other suite running at the same time (agents' instances, controllers' HTTP servers, the store
# tests' database connections, the cluster's processes) would move; and the cluster (a
# controller and agents as processes) gets the machine's cores to itself.
swift test --skip-build --filter CellaSandboxTests "$@"
# DirectRoutes' tests time pipelined requests, half-closes and shutdowns over raw sockets; in the
# parallel group their servers got no turn for seconds at a time (seen: nothing answered for 5 s).
swift test --skip-build --filter CellaHTTPTests "$@"
swift test --skip-build --skip CellaSandboxTests --skip CellaAgentTests --skip ClusterTests --skip CellaHTTPTests "$@"
swift test --skip-build --filter CellaAgentTests "$@"
swift test --skip-build --filter ClusterTests "$@"
