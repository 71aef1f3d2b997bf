#!/usr/bin/env bash
# Templates against cold starts (docs/runtime-snapshots.md): time to first response of a function
# whose init takes ~300 ms, as (a) a full cold start, (b) a clone from its template, (c) a warm
# instance, (d) `runc run` of the same rootfs and handler; then the USS of idle clones.
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
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
  for s in /run/cella-bench-snap-cold /run/cella-bench-snap; do grep -q " $s" /proc/mounts || rm -rf "$s"; done
  # The agents removed their sandboxes' cgroups; their roots are left to remove.
  rmdir /sys/fs/cgroup/*/cella-bench-snap /sys/fs/cgroup/*/cella-bench-snap-cold \
    /sys/fs/cgroup/cella-bench-snap /sys/fs/cgroup/cella-bench-snap-cold 2>/dev/null || true
  return 0
}
trap cleanup EXIT

echo "load at start: $(cat /proc/loadavg)"
if [ -n "${CELLA_BIN:-}" ]; then cella=$CELLA_BIN; else
  swift build -c release --product cella --scratch-path .build-bench >"$tmp/build.log" 2>&1 ||
    { tail -30 "$tmp/build.log" >&2; exit 1; }
  cella=$PWD/.build-bench/release/cella
fi
runtimes=${CELLA_RUNTIMES_DIR:-/var/lib/cella/runtimes}
CELLA_RUNTIMES_DIR=$runtimes bash rootfs/build.sh python3.11 >/dev/null
grep -q '"templates"' "$runtimes/python3.11/runtime.json" ||
  { echo "$0: $runtimes/python3.11 does not speak the template protocol; rebuild it" >&2; exit 1; }
rootfs=$(realpath "$runtimes/python3.11/rootfs")
code=$PWD/Tests/Fixtures/functions/template-probe

free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_agent() {  # variable for its URL, name, extra flags... (not in $(...): pids must be ours)
  local var=$1 name=$2 port; shift 2
  port=$(free_port)
  "$cella" agent --port "$port" --cgroup-root "cella-bench-$name" --state-dir "/run/cella-bench-$name" \
    --data-dir "$tmp/data-$name" --runtimes-dir "$runtimes" --memory-budget 400000 --log-level warning "$@" \
    >"$tmp/agent-$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/v1/health" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -fsS "http://127.0.0.1:$port/v1/health" >/dev/null || { cat "$tmp/agent-$name.log" >&2; exit 1; }
  printf -v "$var" '%s' "http://127.0.0.1:$port"
}
start_agent cold_api snap-cold --no-templates
start_agent snap_api snap --template-budget 4096

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
for name in snap-cold snap; do
  if grep -qv '^$' "$tmp/agent-$name.log"; then echo "--- agent $name log:"; tail -20 "$tmp/agent-$name.log"; fi
done
