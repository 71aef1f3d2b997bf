#!/usr/bin/env bash
# Templates against cold starts (docs/runtime-snapshots.md): time to first response of a function
# whose init takes ~300 ms, as (a) a full cold start (no template, no prepared sandbox), (b) a
# clone from its template, (b') the same with an after-clone hook, (c) a warm instance, (c') a warm
# instance after the pause (a) and (b) get, (d) `runc run` of the same rootfs and handler; then
# the USS of idle clones.
# Usage (as root): scripts/bench/snapshot.sh [iterations (default 50)] [idle clones (default 200)]
# CELLA_BIN: a cella binary to use instead of building one (release) in .build-bench.
set -euo pipefail
cd "$(dirname "$0")/../.."
iterations=${1:-50}
idle=${2:-200}
py=/usr/bin/python3
export PATH="/opt/swift/usr/bin:$PATH"
[ "$(id -u)" = 0 ] || { echo "$0: must run as root (agent, runc)" >&2; exit 1; }
command -v runc >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q runc; }

tmp=$(mktemp -d /tmp/cella-bench-snap.XXXXXX)
chmod 711 "$tmp"
pids=()
source scripts/bench/agents.sh
cleanup() { stop_agents snap-cold snap; }
trap cleanup EXIT

echo "load at start: $(cat /proc/loadavg)"
bench_cella
runtimes=${CELLA_RUNTIMES_DIR:-/var/lib/cella/runtimes}
CELLA_RUNTIMES_DIR=$runtimes bash rootfs/build.sh python3.11 >/dev/null
grep -q '"templates"' "$runtimes/python3.11/runtime.json" ||
  { echo "$0: $runtimes/python3.11 does not speak the template protocol; rebuild it" >&2; exit 1; }
rootfs=$(realpath "$runtimes/python3.11/rootfs")
code=$PWD/Tests/Fixtures/functions/template-probe

start_agent cold_api snap-cold --memory-budget 400000 --no-templates --prepared-sandboxes 0
start_agent snap_api snap --memory-budget 400000 --template-budget 4096

zip=$tmp/probe.zip
(cd "$code" && "$py" -m zipfile -c "$zip" app.py)
digest=$(sha256sum "$zip" | cut -d' ' -f1)
for api in "$cold_api" "$snap_api"; do curl -fsS -X PUT --data-binary @"$zip" "$api/v1/bundles/$digest" >/dev/null; done

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "cella $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- Sources rootfs || echo '+local changes'), $(runc --version | head -1)"
unshare -m --propagation private "$py" scripts/bench/snapshot_driver.py --cold "$cold_api" --snap "$snap_api" \
  --snap-root cella-bench-snap --digest "$digest" --code "$code" --rootfs "$rootfs" \
  --iterations "$iterations" --idle-clones "$idle"
echo "load at end: $(cat /proc/loadavg)"
agent_logs snap-cold snap
