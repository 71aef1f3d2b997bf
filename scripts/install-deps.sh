#!/usr/bin/env bash
# Installs the Debian packages Cella builds and tests with, when missing (as root).
set -euo pipefail
need=()
for pkg in libseccomp-dev libcap-dev busybox-static gcc libc6-dev pkg-config zlib1g-dev python3 debootstrap \
  libsqlite3-dev postgresql python3-yaml seccomp; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need[@]}"
fi
# boto3, for the tests that invoke Cella through the Lambda-compatible API as AWS's SDK does.
if ! python3 -c 'import boto3' 2>/dev/null; then
  python3 -m pip install -q boto3 2>/dev/null ||
    { export DEBIAN_FRONTEND=noninteractive; apt-get install -y -q --no-install-recommends python3-boto3; }
fi
