#!/usr/bin/env bash
# The README's run command: installs what is missing, builds Cella, and runs `cella up` — a
# controller with its SQLite store and a node agent on this machine — in the foreground until
# Ctrl-C (which drains it: invocations in flight finish, every instance stops). The first start
# builds the python3.11 and provided runtimes. Run as root. PORT (default 9000) is the endpoint's
# port; DATA_DIR (default /var/lib/cella/up) keeps the state across runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
export PATH="/opt/swift/usr/bin:$PATH"
swift build -c release --product cella
exec .build/release/cella up --port "${PORT:-9000}" ${DATA_DIR:+--data-dir "$DATA_DIR"}
