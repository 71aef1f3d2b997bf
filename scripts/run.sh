#!/usr/bin/env bash
# The README's run command: builds Cella and its runtimes, starts the node agent on
# 127.0.0.1:${PORT:-9100}, deploys examples/hello and invokes it once, then keeps the agent in the
# foreground until Ctrl-C (which drains it and stops every instance). Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${PORT:-9100}
bash scripts/install-deps.sh
export PATH="/opt/swift/usr/bin:$PATH"
swift build -c release --product cella
bash rootfs/build.sh python3.11 provided >&2
cella=.build/release/cella
api=http://127.0.0.1:$port

deploy_example() {
  for _ in $(seq 100); do curl -fs "$api/v1/health" >/dev/null 2>&1 && break; sleep 0.1; done
  zip=$(mktemp --suffix=.zip)
  (cd examples/hello && python3 -m zipfile -c "$zip" app.py)
  digest=$(sha256sum "$zip" | cut -d' ' -f1)
  curl -fsS -X PUT --data-binary @"$zip" "$api/v1/bundles/$digest" >/dev/null
  rm -f "$zip"
  curl -fsS -X PUT "$api/v1/functions/default/hello/1" \
    -d "{\"config\":{\"name\":\"hello\",\"runtime\":\"python3.11\",\"handler\":\"app.handler\"},\"bundleDigest\":\"$digest\"}" >/dev/null
  echo "--- deployed examples/hello as default/hello version 1; invoking it:" >&2
  curl -fsS "$api/v1/functions/default/hello/1/invoke" -d '{"name":"cella"}' >&2
  echo >&2
  echo "--- try: curl -s $api/v1/functions/default/hello/1/invoke -d '{\"name\":\"you\"}'" >&2
  echo "--- logs: curl -s $api/v1/functions/default/hello/1/logs    stats: curl -s $api/v1/stats" >&2
}
deploy_example &
exec "$cella" agent --port "$port" --runtimes-dir "${CELLA_RUNTIMES_DIR:-/var/lib/cella/runtimes}"
