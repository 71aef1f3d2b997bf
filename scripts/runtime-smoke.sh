#!/usr/bin/env bash
# End-to-end check of the runtimes without the agent: builds python3.11 and provided, prepares the
# awslambdaric bundle, then runs every function fixture through scripts/runtime-run.sh (the
# built rootfs, the code at /var/task, uid 1000, the host's network) against the fake Runtime API
# on 127.0.0.1:9001, one event each, and checks what the runtime posted. As root:
#   scripts/runtime-smoke.sh
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(bash rootfs/build.sh python3.11 | tail -1)
provided=$(bash rootfs/build.sh provided | tail -1)
ric=$(bash scripts/fixtures.sh | tail -1)
fx=Tests/Fixtures/functions
out=$(mktemp /tmp/cella-smoke.XXXXXX)
trap 'rm -f "$out" "$out.log"' EXIT
failures=0

# check NAME RUNTIME CODE HANDLER EVENT EXPECTED-REGEX [COMMAND...]
# EXPECTED-REGEX is matched against the fake API's report (the POST line, or "timed out" when the
# runtime posted nothing); the runtime's output is shown when it does not match.
check() {
  local name=$1 runtime=$2 code=$3 handler=$4 event=$5 expect=$6; shift 6
  python3 rootfs/python3.11/tests/fake_api.py --port 9001 --events 1 --event "$event" \
    --timeout 5 > "$out" 2>&1 &
  local server=$! status=0
  sleep 0.3
  # The runtime loops until the fake API goes away after its one event (or it dies on its own).
  timeout 20 bash scripts/runtime-run.sh -e "_HANDLER=$handler" "$runtime" "$code" "$@" \
    > "$out.log" 2>&1 || status=$?
  wait "$server" || true
  if grep -Eq -- "$expect" "$out"; then
    printf 'ok    %-28s exit %-3s %s\n' "$name" "$status" "$(grep -E -- "$expect" "$out" | head -1 | cut -c1-110)"
  else
    printf 'FAIL  %-28s exit %-3s expected /%s/\n' "$name" "$status" "$expect"
    sed 's/^/      api: /' "$out"; sed 's/^/      log: /' "$out.log" | head -20
    failures=$((failures + 1))
  fi
}

check "cella echo" "$python" $fx/python-echo app.handler '{"k":1}' '/response .*"event": \{"k": 1\}.*"uid": 1000'
check "cella fail" "$python" $fx/python-echo app.fail '{"message":"x"}' '/error \[.*lambda-runtime-function-error-type=ValueError.*"errorMessage": "x"'
check "cella sleep" "$python" $fx/python-echo app.sleep '{"seconds":0.2}' '"slept": 0.2'
check "cella alloc" "$python" $fx/python-echo app.alloc '{"mib":64}' '"allocated_mib": 64'
check "cella prints" "$python" $fx/python-echo app.prints '{"lines":2}' '"printed": 2'
check "cella crash (os._exit)" "$python" $fx/python-echo app.crash '{"code":3}' 'timed out'
check "cella kill (SIGKILL)" "$python" $fx/python-echo app.kill '{}' 'timed out'
check "cella rand" "$python" $fx/python-echo app.rand '{}' '"urandom": "[0-9a-f]{16}"'
check "cella state" "$python" $fx/python-echo app.state '{}' '"count": 1'
check "cella tmp" "$python" $fx/python-echo app.tmp '{"data":"abc"}' '"read": "abc", "task_writable": false'
check "cella import error" "$python" $fx/python-import-error app.handler '{}' 'init/error .*Runtime.ImportModuleError'
check "cella missing handler" "$python" $fx/python-missing-handler app.handler '{}' 'init/error .*Runtime.HandlerNotFound'
check "cella syntax error" "$python" $fx/python-syntax-error app.handler '{}' 'init/error .*Runtime.UserCodeSyntaxError'
check "awslambdaric echo" "$python" "$ric" app.handler '{"k":2}' '/response .*"runtime": "awslambdaric"'
check "awslambdaric init error" "$python" "$ric" app.handler '{}' 'init/error .*Runtime.HandlerNotFound' \
  python3 -m awslambdaric app.missing
check "provided echo" "$provided" $fx/provided echo '{"k":3}' '/response .*\{"k":3\}'
check "provided fail" "$provided" $fx/provided fail '{}' '/error \[.*error-type=ProvidedError'
[ $failures = 0 ] && echo "all passed" || { echo "$failures failed"; exit 1; }
