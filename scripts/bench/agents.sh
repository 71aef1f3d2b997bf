# Shared by the bench scripts that run agents side by side (snapshot.sh, prepared.sh): sourced,
# not run. The caller sets `tmp` (a scratch directory), `py` and `runtimes`, and declares
# `pids=()`.

free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Sets `cella`: $CELLA_BIN, or a release build in .build-bench.
bench_cella() {
  if [ -n "${CELLA_BIN:-}" ]; then cella=$CELLA_BIN; return; fi
  swift build -c release --product cella --scratch-path .build-bench >"$tmp/build.log" 2>&1 ||
    { tail -30 "$tmp/build.log" >&2; exit 1; }
  cella=$PWD/.build-bench/release/cella
}

# start_agent VAR NAME [agent flags...]: an agent on a free loopback port, cgroup root and state
# directory cella-bench-NAME, data and log under $tmp; sets VAR to its URL. Not in $(...): its
# pid must land in this shell's `pids`.
start_agent() {
  local var=$1 name=$2 port; shift 2
  port=$(free_port)
  "$cella" agent --port "$port" --cgroup-root "cella-bench-$name" --state-dir "/run/cella-bench-$name" \
    --data-dir "$tmp/data-$name" --runtimes-dir "$runtimes" --log-level warning "$@" \
    >"$tmp/agent-$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/v1/health" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -fsS "http://127.0.0.1:$port/v1/health" >/dev/null || { cat "$tmp/agent-$name.log" >&2; exit 1; }
  printf -v "$var" '%s' "http://127.0.0.1:$port"
}

# stop_agents NAME...: stops the agents, removes $tmp, and each agent's state directory (once
# nothing is mounted below it) and cgroup roots (the agents removed their sandboxes' cgroups).
stop_agents() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
  local name
  for name in "$@"; do
    grep -q " /run/cella-bench-$name" /proc/mounts || rm -rf "/run/cella-bench-$name"
    rmdir /sys/fs/cgroup/*/"cella-bench-$name" "/sys/fs/cgroup/cella-bench-$name" 2>/dev/null || true
  done
  return 0
}

# Prints the tail of each agent's log that has anything in it (warnings and errors).
agent_logs() {
  local name
  for name in "$@"; do
    if grep -qv '^$' "$tmp/agent-$name.log"; then echo "--- agent $name log:"; tail -20 "$tmp/agent-$name.log"; fi
  done
}
