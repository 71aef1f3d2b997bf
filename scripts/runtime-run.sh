#!/usr/bin/env bash
# Runs a function's runtime the way the agent lays it out, without the sandbox: a read-only
# overlay of the runtime's layers, the code read-only at /var/task, tmpfs /tmp, uid 1000, cwd
# /var/task and the Lambda environment, in a private mount namespace with the host's network
# (so the Runtime API can be a test server on the host's 127.0.0.1:9001). For trying runtimes and
# function bundles by hand; isolation is the sandbox's job, not this script's. As root:
#
#   scripts/runtime-run.sh [-e K=V]... RUNTIME_DIR CODE_DIR [COMMAND...]
#
# COMMAND defaults to what the agent runs: CODE_DIR/bootstrap if it is an executable file, else
# the runtime's "bootstrap" from runtime.json. -e adds or overrides environment variables
# (e.g. -e _HANDLER=app.fail -e AWS_LAMBDA_RUNTIME_API=127.0.0.1:9002).
set -euo pipefail
extra=()
while [ "${1:-}" = -e ]; do extra+=("$2"); shift 2; done
[ $# -ge 2 ] || { sed -n '2,/^set -/p' "$0" | sed '$d' >&2; exit 2; }
runtime=$(realpath "$1") code=$(realpath "$2"); shift 2
[ "$(id -u)" = 0 ] || { echo "$0: must run as root" >&2; exit 1; }

# runtime.json → layer directories (topmost first), bootstrap, environment.
eval "$(python3 - "$runtime/runtime.json" <<'EOF'
import json, shlex, sys
spec = json.load(open(sys.argv[1]))
print("layers=(%s)" % " ".join(shlex.quote(l) for l in spec["layers"]))
print("bootstrap=%s" % shlex.quote(spec["bootstrap"]))
print("runtime_env=(%s)" % " ".join(shlex.quote(f"{k}={v}") for k, v in spec.get("environment", {}).items()))
print("name=%s" % shlex.quote(spec["name"]))
EOF
)"
[ -x "$code/bootstrap" ] && [ -f "$code/bootstrap" ] && bootstrap=/var/task/bootstrap
[ $# -gt 0 ] || set -- "$bootstrap"

function_name=$(basename "$code")
env=(
  "${runtime_env[@]}"
  AWS_LAMBDA_RUNTIME_API=127.0.0.1:9001
  _HANDLER=app.handler
  LAMBDA_TASK_ROOT=/var/task
  AWS_LAMBDA_FUNCTION_NAME="$function_name"
  'AWS_LAMBDA_FUNCTION_VERSION=$LATEST'
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128
  AWS_LAMBDA_LOG_GROUP_NAME="/aws/lambda/$function_name"
  "AWS_LAMBDA_LOG_STREAM_NAME=$(date -u +%Y/%m/%d)/[\$LATEST]0123456789abcdef"
  AWS_REGION=us-east-1
  AWS_EXECUTION_ENV="AWS_Lambda_$name"
  AWS_LAMBDA_INITIALIZATION_TYPE=on-demand
  TZ=UTC
  "${extra[@]}"
)
lowers=$(printf "$runtime/%s:" "${layers[@]}")

exec unshare -m --propagation private -- /bin/bash -euc '
  # A tmpfs over /mnt in this private namespace holds the mountpoint: nothing is left on the host.
  mount -t tmpfs tmpfs /mnt
  root=/mnt/root; mkdir "$root"
  lowers=$1 code=$2; shift 2
  if [ "${lowers%:*}" = "${lowers%%:*}" ]; then   # one layer: overlay wants two lowers
    mount --bind -o ro "${lowers%:}" "$root"
  else
    mount -t overlay overlay -o "lowerdir=${lowers%:}" "$root"
  fi
  mount --bind -o ro "$code" "$root/var/task"
  mount -t tmpfs -o size=64m,nosuid,nodev tmpfs "$root/tmp"
  mount -t proc proc "$root/proc"
  mount -t tmpfs -o size=1m,nosuid tmpfs "$root/dev"
  for dev in null zero full random urandom; do
    touch "$root/dev/$dev"; mount --bind "/dev/$dev" "$root/dev/$dev"
  done
  mkdir "$root/dev/shm"; mount -t tmpfs -o size=16m tmpfs "$root/dev/shm"
  exec chroot --userspec=1000:1000 "$root" env -i "$@"
' run "$lowers" "$code" "${env[@]}" /bin/sh -c 'cd /var/task && exec "$@"' bootstrap "$@"
