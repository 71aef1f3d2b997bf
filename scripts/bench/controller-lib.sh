# Sourced by scripts/bench/controller.sh and controller-ab.sh: a controller and an agent of a given
# `cella` binary on this machine, their own store, data, ports and tokens, the no-op Python
# function, and cleanup that leaves no process, state directory, cgroup root or temporary file.
# Usage: bench_setup NAME (once; NAME names /run/cella-bench-NAME and the cgroup root), then
# bench_start BIN (controller and agent as two processes) or bench_start_up BIN (`cella up`: one
# process) and bench_stop as often as needed, bench_create_noop once with a node live,
# bench_deploy_noop after each start. Sets tmp, ctl, agent, via, direct, auth and wrk's Lua
# scripts $tmp/post.lua (operator token) and $tmp/direct.lua (node token).

bench_setup() {
  bench_name=$1
  export PATH="/opt/swift/usr/bin:$PATH"
  [ "$(id -u)" = 0 ] || { echo "$0: must run as root (the agent runs sandboxes)" >&2; exit 1; }
  command -v wrk >/dev/null ||
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk; }
  tmp=$(mktemp -d "/tmp/cella-bench-$bench_name.XXXXXX")
  chmod 711 "$tmp"
  state=/run/cella-bench-$bench_name
  agent_pid='' controller_pid=''
  trap bench_cleanup EXIT
  runtimes=/var/lib/cella/runtimes
  CELLA_RUNTIMES_DIR=$runtimes bash rootfs/build.sh python3.11 >/dev/null
  local cport aport
  cport=$(bench_free_port); aport=$(bench_free_port)
  ctl=http://127.0.0.1:$cport agent=http://127.0.0.1:$aport
  export CELLA_OPERATOR_TOKEN="bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  export CELLA_NODE_TOKEN="bench-node-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  export CELLA_CONTROLLER_TOKEN=$CELLA_NODE_TOKEN
  auth="Authorization: Bearer $CELLA_OPERATOR_TOKEN"
  via=$ctl/v1/functions/noop/invoke
  # The first invoke deploys $LATEST (revision 1) on the agent as latest-r1; the direct path calls that.
  direct=$agent/v1/functions/default/noop/latest-r1/invoke
  bench_lua "$CELLA_OPERATOR_TOKEN" >"$tmp/post.lua"
  bench_lua "$CELLA_NODE_TOKEN" >"$tmp/direct.lua"  # the agent takes the node token only
}

bench_free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

bench_lua() {  # token → a wrk script POSTing {} with it
  printf 'wrk.method = "POST"\nwrk.body = "{}"\nwrk.headers["Authorization"] = "Bearer %s"\n' "$1"
}

bench_start() {  # bin: its controller and agent, and the node live
  "$1" controller --port "${ctl##*:}" --store "sqlite:$tmp/cella.db" --tenant-concurrency 0 --log-level warning \
    >>"$tmp/controller.log" 2>&1 &
  controller_pid=$!
  "$1" agent --port "${agent##*:}" --controller "$ctl" --node-id bench --cgroup-root "cella-bench-$bench_name" \
    --state-dir "$state" --data-dir "$tmp/data" --runtimes-dir "$runtimes" --memory-budget 8192 --log-level warning \
    >>"$tmp/agent.log" 2>&1 &
  agent_pid=$!
  for _ in $(seq 100); do curl -fs -H "$auth" "$ctl/v1/nodes" 2>/dev/null | grep -q '"status":"live"' && return 0; sleep 0.1; done
  cat "$tmp/controller.log" "$tmp/agent.log" >&2
  exit 1
}

bench_start_up() {  # bin: `cella up` (controller and agent in one process) on the same ports and tokens
  local dir=$tmp/up
  # cella up builds the runtimes it lacks before it listens: build them first, outside its wait.
  CELLA_RUNTIMES_DIR=$runtimes bash rootfs/build.sh python3.11 provided >/dev/null
  mkdir -p "$dir" && chmod 711 "$dir"
  # cella up keeps its keys in its data directory: the run's tokens, written before the first start.
  (umask 077 && printf '%s\n' "$CELLA_OPERATOR_TOKEN" >"$dir/operator-key" && printf '%s\n' "$CELLA_NODE_TOKEN" >"$dir/node-key")
  "$1" up --data-dir "$dir" --port "${ctl##*:}" --agent-port "${agent##*:}" --cgroup-root "cella-bench-$bench_name" \
    --state-dir "$state" --runtimes-dir "$runtimes" --memory-budget 8192 --log-level warning \
    >>"$tmp/controller.log" 2>&1 &
  controller_pid=$!
  for _ in $(seq 100); do curl -fs -H "$auth" "$ctl/v1/nodes" 2>/dev/null | grep -q '"status":"live"' && return 0; sleep 0.1; done
  cat "$tmp/controller.log" >&2
  exit 1
}

bench_stop() {  # the agent drains and removes its sandboxes on TERM; KILL after 30 s
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

bench_cleanup() {
  bench_stop
  rm -rf "$tmp"
  grep -q " $state" /proc/mounts || rm -rf "$state"
  # The agent removed its sandboxes' cgroups; the root they shared goes last.
  rmdir /sys/fs/cgroup/*/"cella-bench-$bench_name" "/sys/fs/cgroup/cella-bench-$bench_name" 2>/dev/null || true
  return 0
}

bench_create_noop() {  # the no-op function, through the live controller
  local zip=$tmp/noop.zip digest
  (cd Tests/Fixtures/functions/noop && python3 -m zipfile -c "$zip" app.py)
  digest=$(curl -fsS -H "$auth" --data-binary @"$zip" "$ctl/v1/bundles" | python3 -c 'import json,sys; print(json.load(sys.stdin)["digest"])')
  curl -fsS -H "$auth" -H 'Content-Type: application/json' "$ctl/v1/functions" \
    -d "{\"config\":{\"name\":\"noop\",\"runtime\":\"python3.11\",\"handler\":\"app.handler\",\"memoryMB\":128},\"codeDigest\":\"$digest\"}" >/dev/null
}

bench_deploy_noop() {  # the first invoke deploys it on the agent; a build that cannot run it stops the run
  curl -fsS -D "$tmp/h" -o /dev/null -H "$auth" -d '{}' "$via"
  grep -qi '^X-Cella-Outcome: success' "$tmp/h" ||
    { echo "the first invoke failed:" >&2; cat "$tmp/h" "$tmp/controller.log" >&2; exit 1; }
}
