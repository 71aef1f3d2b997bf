#!/usr/bin/env bash
# The run command: installs what is missing, builds Cella, makes a busybox rootfs and runs a
# command in a sandbox with every protection on (default: a report of what the sandbox sees).
# Usage: sudo bash scripts/try-sandbox.sh [COMMAND...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
export PATH="/opt/swift/usr/bin:$PATH"
swift build -c release --product cella
rootfs=$(bash rootfs/busybox.sh)
if [ $# -eq 0 ]; then
  set -- /bin/sh -c 'echo "inside: $(id)"; grep -E "^(Cap(Eff|Bnd)|NoNewPrivs|Seccomp):" /proc/self/status; echo "processes: $(ls /proc | grep -c "^[0-9]")"; touch /etc/x 2>&1; echo ok > /tmp/x && echo "/tmp is writable"'
fi
exec .build/release/cella sandbox run --rootfs "$rootfs" --stats -- "$@"
