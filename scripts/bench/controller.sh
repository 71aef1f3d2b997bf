#!/usr/bin/env bash
# End-to-end warm invoke through controller → agent → runtime, side by side with calling the agent
# directly, in the same run: a no-op Python function, wrk at 1 connection (median and p99 from
# wrk's --latency distribution, microsecond resolution) and at 64 connections (throughput),
# rounds alternating between the paths. The controller is called twice: with the operator's token
# and as a tenant's caller would, with a principal's API key and an attached policy (key, principal
# and policies looked up and evaluated). A bare HTTP relay on NIO to the agent
# (Benchmarks/cella-hop-bench: no Cella code) runs beside them: the floor of any HTTP hop here.
# Everything runs on this machine (controller, agent, runtime and load generator share its cores).
# TOPOLOGY=processes (the default) runs `cella controller` and `cella agent` as two processes,
# as a cluster's nodes would be; TOPOLOGY=up runs `cella up`, the embedded default: one process,
# whose controller hands invocations to its agent by a call (the agent's HTTP port, which the
# direct path and the relay use, stays open as in production).
# Usage: scripts/bench/controller.sh (as root). ROUNDS (default 3) alternating
# rounds; DURATION (s, default 10) each wrk run; TOPOLOGY (processes or up).
set -euo pipefail
cd "$(dirname "$0")/../.."

rounds=${ROUNDS:-3}
duration=${DURATION:-10}
topology=${TOPOLOGY:-processes}
case $topology in processes|up) ;; *) echo "TOPOLOGY must be processes or up, not '$topology'" >&2; exit 2;; esac
. scripts/bench/controller-lib.sh
bench_setup controller
echo "load at start: $(cat /proc/loadavg)"
for product in cella cella-hop-bench; do
  swift build -c release --product "$product" --scratch-path .build-bench >"$tmp/build.log" 2>&1 ||
    { tail -30 "$tmp/build.log" >&2; exit 1; }
done
if [ "$topology" = up ]; then bench_start_up "$PWD/.build-bench/release/cella"; else bench_start "$PWD/.build-bench/release/cella"; fi
bench_create_noop
bench_deploy_noop
# A tenant's caller: a principal's API key, allowed to invoke by an attached policy (the operator's
# token skips the key lookup and the policy evaluation).
curl -fsS -H "$auth" -H 'Content-Type: application/json' "$ctl/v1/principals" -d '{"name":"bench-caller"}' >/dev/null
curl -fsS -H "$auth" -X PUT "$ctl/v1/policies/bench-invoke" \
  --data-binary '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"cella:InvokeFunction","Resource":"*"}]}' >/dev/null
curl -fsS -H "$auth" -X PUT "$ctl/v1/policies/bench-invoke/attachments/bench-caller" >/dev/null
key=$(curl -fsS -H "$auth" -X POST "$ctl/v1/principals/bench-caller/keys" | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
bench_lua "$key" >"$tmp/key.lua"
# The floor of any HTTP hop on NIO here: a bare relay to the agent (Benchmarks/cella-hop-bench).
hop_port=$(bench_free_port)
"$PWD/.build-bench/release/cella-hop-bench" "$hop_port" 127.0.0.1 "${agent##*:}" >>"$tmp/hop.log" 2>&1 &
hop_pid=$!
trap 'kill "$hop_pid" 2>/dev/null || true; wait "$hop_pid" 2>/dev/null || true; bench_cleanup' EXIT
hop=http://127.0.0.1:$hop_port${direct#"$agent"}
for _ in $(seq 50); do curl -fs -o /dev/null -H "Authorization: Bearer $CELLA_NODE_TOKEN" -d '{}' "$hop" && break; sleep 0.1; done
curl -fsS -o /dev/null -H "Authorization: Bearer $CELLA_NODE_TOKEN" -d '{}' "$hop" ||
  { echo "the relay does not answer:" >&2; cat "$tmp/hop.log" >&2; exit 1; }

echo "machine: $(nproc) cores, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "topology: $topology"
echo "cella $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- Sources Package.swift || echo '+local changes'), wrk $(dpkg-query -W -f='${Version}' wrk)"
lat_run() {  # url script → "p50_us p99_us" (one connection, wrk's latency distribution)
  wrk -t 1 -c 1 -d "${duration}s" --latency -s "$2" "$1" >"$tmp/lat.out"
  ! grep -q 'Non-2xx\|Socket errors' "$tmp/lat.out" || { cat "$tmp/lat.out" >&2; exit 1; }
  python3 - "$tmp/lat.out" <<'PY'
import re, sys
scale = {"us": 1, "ms": 1e3, "s": 1e6}
found = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+(?:us|ms|s))\s*$", open(sys.argv[1]).read(), re.M))
def us(v):
    m = re.match(r"([\d.]+)(us|ms|s)$", v)
    return float(m.group(1)) * scale[m.group(2)]
print(f"{us(found['50']):.0f} {us(found['99']):.0f}", end="")
PY
}
wrk_run() {  # url script → requests/s (non-2xx counted as failure)
  wrk -t 2 -c 64 -d "${duration}s" -s "$2" "$1" >"$tmp/wrk.out"
  ! grep -q 'Non-2xx' "$tmp/wrk.out" || { cat "$tmp/wrk.out" >&2; exit 1; }
  awk '/Requests\/sec/ {print int($2)}' "$tmp/wrk.out"
}
lat_run "$via" "$tmp/post.lua" >/dev/null; lat_run "$direct" "$tmp/direct.lua" >/dev/null   # warm-up: connections, caches
lat_run "$hop" "$tmp/direct.lua" >/dev/null
printf '%-6s %-24s %10s %10s %12s\n' round path p50_us p99_us req_per_s
for r in $(seq "$rounds"); do
  read -r cp50 cp99 <<<"$(lat_run "$via" "$tmp/post.lua")"; cth=$(wrk_run "$via" "$tmp/post.lua")
  read -r kp50 kp99 <<<"$(lat_run "$via" "$tmp/key.lua")"; kth=$(wrk_run "$via" "$tmp/key.lua")
  read -r dp50 dp99 <<<"$(lat_run "$direct" "$tmp/direct.lua")"; dth=$(wrk_run "$direct" "$tmp/direct.lua")
  read -r hp50 hp99 <<<"$(lat_run "$hop" "$tmp/direct.lua")"; hth=$(wrk_run "$hop" "$tmp/direct.lua")
  printf '%-6s %-24s %10s %10s %12s\n' "$r" "controller->agent" "$cp50" "$cp99" "$cth"
  printf '%-6s %-24s %10s %10s %12s\n' "$r" "controller (API key)" "$kp50" "$kp99" "$kth"
  printf '%-6s %-24s %10s %10s %12s\n' "$r" "agent direct" "$dp50" "$dp99" "$dth"
  printf '%-6s %-24s %10s %10s %12s\n' "$r" "bare NIO hop->agent" "$hp50" "$hp99" "$hth"
  echo "$r $cp50 $cp99 $cth $dp50 $dp99 $dth $kp50 $kp99 $kth $hp50 $hp99 $hth" >>"$tmp/rounds"
done
python3 - "$tmp/rounds" <<'PY'
import statistics, sys
rows = [list(map(float, l.split()[1:])) for l in open(sys.argv[1])]
med = lambda i: statistics.median(r[i] for r in rows)
added = [r[0] - r[3] for r in rows]
print(f"median over rounds: controller adds {statistics.median(added):.0f} us to the 1-connection median "
      f"(goal <= 150 us); p99 {med(1):.0f} vs {med(4):.0f} us; throughput at 64 connections "
      f"{med(2):.0f}/s through the controller (goal >= 5000/s), {med(5):.0f}/s direct, ratio {med(2)/med(5):.2f}")
keyed = [r[6] - r[3] for r in rows]
print(f"with a principal's API key and its policy: adds {statistics.median(keyed):.0f} us to the 1-connection median, "
      f"p99 {med(7):.0f} us, {med(8):.0f}/s at 64 connections")
hop = [r[9] - r[3] for r in rows]
print(f"a bare NIO hop (no Cella code) adds {statistics.median(hop):.0f} us to the 1-connection median, "
      f"p99 {med(10):.0f} us, {med(11):.0f}/s at 64 connections (ratio {med(11)/med(5):.2f} of direct)")
PY
# cella up's start banner (endpoint, key, data directory) goes to the same log: left out.
banner='^(endpoint|admin key|data|next): |^Ctrl-C stops Cella|^$'
for f in controller agent; do
  if [ -s "$tmp/$f.log" ] && grep -qvE "$banner" "$tmp/$f.log"; then
    echo "--- $f log (warnings and errors):"; grep -vE "$banner" "$tmp/$f.log" | tail -10
  fi
done
