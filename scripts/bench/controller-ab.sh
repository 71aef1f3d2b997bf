#!/usr/bin/env bash
# A/B of two (or more) builds of `cella` on the warm invoke path, alternating them on one setup:
# each turn starts that build's controller and agent (same store, data and ports), warms the
# no-op Python function through the controller, then runs wrk 5 s each: through the controller at
# 1 connection and at 64, and the agent directly at 64. It prints, per run, the median latency,
# requests/s, and per request the CPU time of the controller, the agent, the runtimes and the
# whole machine, and the controller's voluntary context switches (its thread wake-ups). The
# machine is shared and noisy: compare builds within a pair, over several pairs.
# Usage: scripts/bench/controller-ab.sh PAIRS BIN_A BIN_B [BIN...]   (as root; BIN: a cella binary)
# Example: cp .build-bench/release/cella /tmp/cella-new; git stash; swift build -c release
#   --product cella --scratch-path .build-bench; cp .build-bench/release/cella /tmp/cella-old;
#   git stash pop; scripts/bench/controller-ab.sh 3 /tmp/cella-old /tmp/cella-new
set -euo pipefail
cd "$(dirname "$0")/../.."

[ $# -ge 3 ] || { sed -n 2,12p "$0" >&2; exit 2; }
pairs=$1; shift
for bin in "$@"; do [ -x "$bin" ] || { echo "$0: $bin is not an executable" >&2; exit 2; }; done
[ "$(id -u)" = 0 ] || { echo "$0: must run as root (the agent runs sandboxes)" >&2; exit 1; }
command -v wrk >/dev/null ||
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk; }

tmp=$(mktemp -d /tmp/cella-bench-ab.XXXXXX)
chmod 711 "$tmp"
state=/run/cella-bench-ab
agent_pid='' controller_pid=''
stop() {  # the agent drains and removes its sandboxes on TERM; KILL after 30 s
  local pid
  for pid in "$agent_pid" "$controller_pid"; do
    [ -n "$pid" ] || continue
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  agent_pid='' controller_pid=''
}
cleanup() {
  stop
  rm -rf "$tmp"
  grep -q " $state" /proc/mounts || rm -rf "$state"
  rmdir /sys/fs/cgroup/*/cella-bench-ab /sys/fs/cgroup/cella-bench-ab 2>/dev/null || true
  return 0
}
trap cleanup EXIT

runtimes=/var/lib/cella/runtimes
CELLA_RUNTIMES_DIR=$runtimes bash rootfs/build.sh python3.11 >/dev/null
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cport=$(free_port); aport=$(free_port)
ctl=http://127.0.0.1:$cport agent=http://127.0.0.1:$aport
export CELLA_OPERATOR_TOKEN="bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export CELLA_NODE_TOKEN="bench-node-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export CELLA_CONTROLLER_TOKEN=$CELLA_NODE_TOKEN
auth="Authorization: Bearer $CELLA_OPERATOR_TOKEN"

start() {  # bin: its controller and agent, and the node live
  "$1" controller --port "$cport" --store "sqlite:$tmp/cella.db" --tenant-concurrency 0 --log-level warning \
    >>"$tmp/controller.log" 2>&1 &
  controller_pid=$!
  "$1" agent --port "$aport" --controller "$ctl" --node-id bench --cgroup-root cella-bench-ab \
    --state-dir "$state" --data-dir "$tmp/data" --runtimes-dir "$runtimes" --memory-budget 8192 --log-level warning \
    >>"$tmp/agent.log" 2>&1 &
  agent_pid=$!
  for _ in $(seq 100); do curl -fs -H "$auth" "$ctl/v1/nodes" 2>/dev/null | grep -q '"status":"live"' && return 0; sleep 0.1; done
  cat "$tmp/controller.log" "$tmp/agent.log" >&2
  exit 1
}

# The function, created once through the first build.
start "$1"
zip=$tmp/noop.zip
(cd Tests/Fixtures/functions/noop && python3 -m zipfile -c "$zip" app.py)
digest=$(curl -fsS -H "$auth" --data-binary @"$zip" "$ctl/v1/bundles" | python3 -c 'import json,sys; print(json.load(sys.stdin)["digest"])')
curl -fsS -H "$auth" -H 'Content-Type: application/json' "$ctl/v1/functions" \
  -d "{\"config\":{\"name\":\"noop\",\"runtime\":\"python3.11\",\"handler\":\"app.handler\",\"memoryMB\":128},\"codeDigest\":\"$digest\"}" >/dev/null
stop
via=$ctl/v1/functions/noop/invoke
direct=$agent/v1/functions/default/noop/latest-r1/invoke
printf 'wrk.method = "POST"\nwrk.body = "{}"\nwrk.headers["Authorization"] = "Bearer %s"\n' "$CELLA_OPERATOR_TOKEN" >"$tmp/post.lua"
printf 'wrk.method = "POST"\nwrk.body = "{}"\nwrk.headers["Authorization"] = "Bearer %s"\n' "$CELLA_NODE_TOKEN" >"$tmp/direct.lua"

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
runtime_ticks() {
  local sum=0 t
  for p in $(pgrep -f /var/runtime/bootstrap || true); do
    t=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0); sum=$((sum + t))
  done
  echo "$sum"
}
busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^voluntary_ctxt_switches/ {s += $2} END {print s + 0}'; }
hz=$(getconf CLK_TCK)

run() {  # label url lua connections
  local c0 a0 r0 b0 x0 c1 a1 r1 b1 x1 n
  c0=$(ticks "$controller_pid"); a0=$(ticks "$agent_pid"); r0=$(runtime_ticks); b0=$(busy); x0=$(switches "$controller_pid")
  wrk -t "$([ "$4" = 1 ] && echo 1 || echo 2)" -c "$4" -d 5s --latency -s "$3" "$2" >"$tmp/wrk.out"
  c1=$(ticks "$controller_pid"); a1=$(ticks "$agent_pid"); r1=$(runtime_ticks); b1=$(busy); x1=$(switches "$controller_pid")
  ! grep -q 'Non-2xx\|Socket errors' "$tmp/wrk.out" || { cat "$tmp/wrk.out" >&2; exit 1; }
  n=$(awk '/requests in/ {print $1}' "$tmp/wrk.out")
  python3 - "$label" "$1" "$4" "$n" "$hz" "$(awk '/ 50%/ {print $2}' "$tmp/wrk.out")" \
    "$(awk '/Requests\/sec/ {print $2}' "$tmp/wrk.out")" $((c1 - c0)) $((a1 - a0)) $((r1 - r0)) $((b1 - b0)) $((x1 - x0)) <<'PY'
import sys
build, path, conns, n, hz, p50, rps, c, a, r, b, x = sys.argv[1:]
n, hz = int(n), int(hz)
us = lambda ticks: f"{int(ticks) / hz / n * 1e6:.0f}"
print(f"{build:<16} {path:<7} {conns:>3} {p50:>9} {float(rps):>8.0f} {us(c):>8} {us(a):>8} {us(r):>8} {us(b):>8} {int(x) / n:>7.2f}")
PY
}

echo "load at start: $(cat /proc/loadavg); $(nproc) cores, $(uname -r)"
echo "per request: CPU µs of the controller, the agent, the runtimes, the machine; controller wake-ups"
printf '%-16s %-7s %3s %9s %8s %8s %8s %8s %8s %7s\n' build path c p50 req/s ctl_us agent_us rt_us all_us ctl_cs
# Builds are told apart by file name, or by path when two share a name.
same_names=$(for bin in "$@"; do basename "$bin"; done | sort | uniq -d)
for _ in $(seq "$pairs"); do
  for bin in "$@"; do
    if [ -n "$same_names" ]; then label=$bin; else label=$(basename "$bin"); fi
    start "$bin"
    # Deploys the function on this agent; a build that cannot run it is not measured.
    curl -fsS -D "$tmp/h" -o /dev/null -H "$auth" -d '{}' "$via"
    grep -qi '^X-Cella-Outcome: success' "$tmp/h" || { echo "$bin: the first invoke failed:" >&2; cat "$tmp/h" >&2; exit 1; }
    wrk -t 2 -c 64 -d 3s -s "$tmp/post.lua" "$via" >/dev/null  # warm: connections and instances
    run via "$via" "$tmp/post.lua" 1
    run via "$via" "$tmp/post.lua" 64
    run direct "$direct" "$tmp/direct.lua" 64
    stop
  done
done
