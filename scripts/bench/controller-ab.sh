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
. scripts/bench/controller-lib.sh
bench_setup ab

# The function, created once through the first build.
bench_start "$1"
bench_create_noop
bench_stop

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
    bench_start "$bin"
    bench_deploy_noop  # deploys the function on this agent; a build that cannot run it stops the run
    wrk -t 2 -c 64 -d 3s -s "$tmp/post.lua" "$via" >/dev/null  # warm: connections and instances
    run via "$via" "$tmp/post.lua" 1
    run via "$via" "$tmp/post.lua" 64
    run direct "$direct" "$tmp/direct.lua" 64
    bench_stop
  done
done
