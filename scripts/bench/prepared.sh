#!/usr/bin/env bash
# Prepared sandboxes (docs/runtime-snapshots.md): time to first response of a cold start of a
# `provided` function, on an agent that builds each sandbox on demand (--prepared-sandboxes 0) and
# on one that holds the next sandbox of the version before its runtime's exec, in the same run.
# The function is one-shot (its bootstrap exits after one invocation), so every call is a cold
# start. Usage (as root): scripts/bench/prepared.sh [iterations (default 100)]
# CELLA_BIN: a cella binary to use instead of building one (release) in .build-bench.
set -euo pipefail
cd "$(dirname "$0")/../.."
iterations=${1:-100}
py=/usr/bin/python3
export PATH="/opt/swift/usr/bin:$PATH"
[ "$(id -u)" = 0 ] || { echo "$0: must run as root (agents)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/cella-bench-prepared.XXXXXX)
chmod 711 "$tmp"
pids=()
source scripts/bench/agents.sh
cleanup() { stop_agents scratch prepared; }
trap cleanup EXIT

echo "load at start: $(cat /proc/loadavg)"
bench_cella
runtimes=${CELLA_RUNTIMES_DIR:-/var/lib/cella/runtimes}
CELLA_RUNTIMES_DIR=$runtimes bash rootfs/build.sh provided >/dev/null

start_agent scratch_api scratch --memory-budget 8192 --prepared-sandboxes 0
start_agent prepared_api prepared --memory-budget 8192 --prepared-sandboxes 1

# A one-shot custom runtime (busybox sh and wget, as in Tests/Fixtures/functions/provided): takes
# one event, answers it with the event, exits.
mkdir "$tmp/code"
cat >"$tmp/code/bootstrap" <<'SH'
#!/bin/sh
api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
cd /tmp
wget -q -S -O event "$api/invocation/next" 2> headers || { cat headers >&2; exit 1; }
id=$(grep -i '^ *lambda-runtime-aws-request-id:' headers | sed 's/^[^:]*: *//' | tr -d '\r')
wget -q -O /dev/null --header 'Content-Type: application/json' --post-file event "$api/invocation/$id/response"
SH
chmod 755 "$tmp/code/bootstrap"
zip=$tmp/oneshot.zip
"$py" - "$zip" "$tmp/code/bootstrap" <<'PY'
import sys, zipfile
info = zipfile.ZipInfo("bootstrap", date_time=(2020, 1, 1, 0, 0, 0))
info.external_attr = 0o100755 << 16
with zipfile.ZipFile(sys.argv[1], "w") as z, open(sys.argv[2], "rb") as f:
    z.writestr(info, f.read())
PY
digest=$(sha256sum "$zip" | cut -d' ' -f1)
for api in "$scratch_api" "$prepared_api"; do curl -fsS -X PUT --data-binary @"$zip" "$api/v1/bundles/$digest" >/dev/null; done

echo "machine: $(nproc) cores, $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "cella $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- Sources || echo '+local changes')"
"$py" scripts/bench/prepared_driver.py --scratch "$scratch_api" --prepared "$prepared_api" \
  --digest "$digest" --iterations "$iterations"
echo "load at end: $(cat /proc/loadavg)"
agent_logs scratch prepared
