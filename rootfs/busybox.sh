#!/usr/bin/env bash
# Builds a minimal root filesystem from Debian's busybox-static: busybox, its applet links and the
# mountpoints a sandbox needs. Usage: rootfs/busybox.sh [DIR]   (default rootfs/out/busybox)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-rootfs/out/busybox}
rm -rf "$dir"
mkdir -p "$dir"/{bin,proc,dev,tmp,var/task,etc}
cp /bin/busybox "$dir/bin/busybox"
for applet in $("$dir/bin/busybox" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$dir/bin/$applet"
done
echo "nobody:x:65534:65534:nobody:/:/bin/sh" > "$dir/etc/passwd"
echo "sandbox:x:1000:1000:sandbox:/tmp:/bin/sh" >> "$dir/etc/passwd"
chmod -R go+rX "$dir"
# Every ancestor must be searchable by the sandbox's unprivileged host uid.
p=$(cd "$dir" && pwd)
while [ "$p" != / ]; do chmod o+x "$p"; p=$(dirname "$p"); done
echo "$dir"
