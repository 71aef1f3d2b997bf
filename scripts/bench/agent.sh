#!/usr/bin/env bash
# The agent's warm invoke round trip and throughput (wrk and hey, against a direct in-process
# Python server) and its cold start (against `runc run` and a bare chroot'd python3.11 on the
# same rootfs), peers side by side in the same run. Usage: scripts/bench/agent.sh [iterations]
# (as root). iterations: cold-start rounds (default 200); the 1-client hey run makes 50× as many
# requests. DURATION (s, default 10) sets each wrk run and each 16-client hey run.
set -euo pipefail
cd "$(dirname "$0")/../.."
iterations=${1:-200}
duration=${DURATION:-10}
py=/usr/bin/python3   # Debian's 3.11, as in the runtime's rootfs (not whatever is first on PATH)
export PATH="/opt/swift/usr/bin:$PATH"
[ "$(id -u)" = 0 ] || { echo "$0: must run as root (agent, runc, chroot)" >&2; exit 1; }
command -v hey >/dev/null && command -v wrk >/dev/null && command -v runc >/dev/null ||
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q hey wrk runc; }

tmp=$(mktemp -d /tmp/cella-bench-agent.XXXXXX)
chmod 711 "$tmp"   # the sandboxes' unprivileged host users must reach the bundle trees below it
state=/run/cella-bench-agent
agent_pid='' direct_pid=''
cleanup() {
  if [ -n "$direct_pid" ]; then kill -TERM "$direct_pid" 2>/dev/null; wait "$direct_pid" 2>/dev/null || true; fi
  if [ -n "$agent_pid" ]; then kill -TERM "$agent_pid" 2>/dev/null; wait "$agent_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
  # The state directory only once nothing is mounted below it (a drained agent leaves nothing).
  grep -q " $state" /proc/mounts || rm -rf "$state"
  return 0
}
trap cleanup EXIT

echo "load at start: $(cat /proc/loadavg)"
# A scratch path of its own: never waits on (or invalidates) anyone else's .build.
swift build -c release --product cella --scratch-path .build-bench >"$tmp/build.log" 2>&1 ||
  { tail -30 "$tmp/build.log" >&2; exit 1; }
cella=$PWD/.build-bench/release/cella
runtimes=/var/lib/cella/runtimes
CELLA_RUNTIMES_DIR=$runtimes bash rootfs/build.sh python3.11 >/dev/null
rootfs=$(realpath "$runtimes/python3.11/rootfs")   # runc refuses a symlinked root
code=$PWD/Tests/Fixtures/functions/noop

free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
api=http://127.0.0.1:$port
"$cella" agent --port "$port" --cgroup-root cella-bench-agent --state-dir "$state" \
  --data-dir "$tmp/data" --runtimes-dir "$runtimes" --memory-budget 8192 --log-level warning \
  >"$tmp/agent.log" 2>&1 &
agent_pid=$!
for _ in $(seq 100); do curl -fs "$api/v1/health" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "$api/v1/health" >/dev/null || { cat "$tmp/agent.log" >&2; exit 1; }

dport=$(free_port)
"$py" scripts/bench/agent_driver.py serve --port "$dport" --code "$code" --workers 4 &
direct_pid=$!
for _ in $(seq 100); do curl -fs -d '{}' "http://127.0.0.1:$dport/" >/dev/null 2>&1 && break; sleep 0.1; done

zip=$tmp/noop.zip
(cd "$code" && "$py" -m zipfile -c "$zip" app.py)
digest=$(sha256sum "$zip" | cut -d' ' -f1)
curl -fsS -X PUT --data-binary @"$zip" "$api/v1/bundles/$digest" >/dev/null
deploy() {  # version, extra config JSON
  curl -fsS -X PUT -H 'Content-Type: application/json' "$api/v1/functions/bench/noop/$1" \
    -d "{\"config\":{\"name\":\"noop\",\"runtime\":\"python3.11\",\"handler\":\"app.handler\",\"memoryMB\":128$2},\"bundleDigest\":\"$digest\"}" >/dev/null
}
deploy 1 ''
deploy 2 ',"reservedConcurrency":4'
for v in 1 2; do
  curl -fsS -D "$tmp/h" -o /dev/null -d '{}' "$api/v1/functions/bench/noop/$v/invoke"
  grep -qi '^X-Cella-Outcome: success' "$tmp/h" || { echo "invoke of noop/$v failed:" >&2; cat "$tmp/h" "$tmp/agent.log" >&2; exit 1; }
done

echo "machine: $(nproc) cores, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "cella $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- Sources Package.swift || echo '+local changes'), $(runc --version | head -1), wrk $(dpkg-query -W -f='${Version}' wrk), hey $(dpkg-query -W -f='${Version}' hey), $("$py" --version)"
# Its own mount namespace: the driver bind-mounts the code on the rootfs's /var/task for chroot.
unshare -m --propagation private "$py" scripts/bench/agent_driver.py run \
  --agent "$api" --direct "http://127.0.0.1:$dport" --agent-pid "$agent_pid" --direct-pid "$direct_pid" \
  --digest "$digest" --code "$code" --rootfs "$rootfs" --iterations "$iterations" \
  --requests $((iterations * 50)) --duration "$duration"
if grep -qv '^$' "$tmp/agent.log"; then echo "--- agent log (warnings and errors):"; tail -20 "$tmp/agent.log"; fi
