#!/usr/bin/env bash
# The python3.11 runtime's figures (docs/runtimes.md), measured inside the built rootfs with the
# host's network (scripts/runtime-run.sh) against the fake Runtime API on 127.0.0.1:9001:
#  1. warm round trip per invocation of a no-op handler: Cella's client (raw socket) vs the same
#     client over http.client vs a bare socket loop (the floor) vs awslambdaric, ROUNDS rounds
#     of INVOKES each, interleaved, server and runtime on one core and on two;
#  2. start-up: python3.11 -c pass with various flags, and spawn → first GET /next per bootstrap.
# Usage (as root): scripts/bench/runtime.sh [INVOKES [ROUNDS [START_RUNS]]]   (20000 3 40)
set -euo pipefail
cd "$(dirname "$0")/../.."
invokes=${1:-20000} rounds=${2:-3} start_runs=${3:-40}
runtime=$(bash rootfs/build.sh python3.11 2>/dev/null | tail -1)
bundle=$(bash scripts/fixtures.sh 2>/dev/null | tail -1)
tests=rootfs/python3.11/tests
# The code directory: the awslambdaric bundle (its app.py has a no-op handler) and the benchmarks.
code=$(mktemp -d /tmp/cella-bench-code.XXXXXX)
trap 'rm -rf "$code" "$code.out" "$code.err"' EXIT
cp -a "$bundle"/. "$code"/ && cp "$tests"/bench_client.py "$tests"/bench_start.py "$code"/
chmod -R go+rX "$code"

echo "machine: $(nproc) cores, $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ)"
# Placement matters more than the client on a VM: a wakeup across cores costs tens of µs, so
# every mode runs with the server and the runtime pinned to the same core and to different ones.
echo "== warm round trip, no-op handler, $invokes invocations per run (first 5% left out)"
for round in $(seq "$rounds"); do
  for placement in "same 1 1" "cross 0 1"; do
    set -- $placement
    echo "-- round $round, $1 core (server on cpu $2, runtime on cpu $3), load $(cut -d' ' -f1-3 /proc/loadavg)"
    for mode in raw httpclient floor awslambdaric; do
      taskset -c "$2" python3 "$tests/fake_api.py" --bench --port 9001 --events "$invokes" \
        --timeout 300 > "$code.out" &
      server=$!
      sleep 0.3
      if [ $mode = awslambdaric ]; then cmd=(python3 -m awslambdaric app.noop)
      else cmd=(python3.11 -sB /var/task/bench_client.py "$mode"); fi
      taskset -c "$3" bash scripts/runtime-run.sh -e _HANDLER=app.noop "$runtime" "$code" \
        "${cmd[@]}" > /dev/null 2> "$code.err" || true
      wait "$server"
      printf '%-13s %s\n' "$mode" "$(cat "$code.out")"
      if grep -q '^only' "$code.out"; then tail -3 "$code.err"; fi
    done
  done
done
rm -f "$code.out" "$code.err"

echo "== start-up inside the rootfs, $start_runs runs each (load $(cut -d' ' -f1-3 /proc/loadavg))"
bash scripts/runtime-run.sh "$runtime" "$code" python3.11 /var/task/bench_start.py "$start_runs" \
  "pass" "pass -s" "pass -S" "pass -I" "pass -I -S" "import socket,json" \
  "bootstrap (shebang -sB)" "sh -c exec python -sB" "python (site, bytecode writes)" \
  "python -SB" "python -sB -E" "awslambdaric"
