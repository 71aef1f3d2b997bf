#!/usr/bin/env bash
# Sandbox start→exec→exit of a static `true`, with runc and bwrap on the same rootfs in the same
# run. Usage: scripts/bench/sandbox.sh [runs]   (as root; installs runc and bwrap when missing)
# SCRATCH: the SwiftPM build directory for the release build (default .build; the other bench
# scripts use .build-bench).
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-500}
command -v runc >/dev/null && command -v bwrap >/dev/null ||
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q runc bubblewrap; }
rootfs=$(mktemp -d /tmp/cella-bench-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
chmod 755 "$rootfs"
mkdir -p "$rootfs"/{bin,proc,dev,tmp,sys}
printf 'int main(void){return 0;}\n' | cc -static -O2 -x c -o "$rootfs/bin/true" -
scratch=${SCRATCH:-.build}
swift build -c release --product cella-bench --scratch-path "$scratch" >/dev/null
echo "machine: $(nproc) cores, $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ)"
"$scratch"/release/cella-bench sandbox --rootfs "$rootfs" --runs "$runs"
