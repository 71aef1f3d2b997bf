#!/usr/bin/env bash
# Prepares the function bundles that need more than their source: the awslambdaric bundle
# (Tests/Fixtures/functions/awslambdaric plus AWS's runtime client vendored with
# pip install --target, as a Lambda user would). Idempotent; prints the bundle directory.
#
#   scripts/fixtures.sh [DIR]     (default ${CELLA_CACHE_DIR:-/var/cache/cella}/fixtures/awslambdaric)
#
# The wheels are chosen for the python3.11 runtime's interpreter (CPython 3.11, manylinux x86_64),
# whatever Python runs pip here.
set -euo pipefail
cd "$(dirname "$0")/.."
src=Tests/Fixtures/functions/awslambdaric
dir=${1:-${CELLA_CACHE_DIR:-/var/cache/cella}/fixtures/awslambdaric}
requirement=awslambdaric==4.2.2
pip_target=(--platform manylinux2014_x86_64 --only-binary=:all: --implementation cp
  --python-version 3.11)

# What the bundle is made of: the requirement, the target and the fixture's own files.
stamp=$( { echo "$requirement ${pip_target[*]}"; cat "$src/app.py" "$src/bootstrap" "$0"; } |
  sha256sum | cut -c1-64)
if [ "$(cat "$dir/.fixture-stamp" 2>/dev/null)" = "$stamp" ]; then echo "$dir"; exit 0; fi

echo "[fixtures] installing $requirement into $dir" >&2
tmp=$dir.tmp.$$
trap 'rm -rf "$tmp"' EXIT
rm -rf "$tmp" && mkdir -p "$tmp"
python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore --no-compile --target "$tmp" \
  "${pip_target[@]}" "$requirement" >&2
# The code is mounted read-only: byte-compile now (hash-based, so file times do not matter), if
# this Python's pycs are the runtime's (any 3.11 has the same magic number).
if python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  python3 -m compileall -q --invalidation-mode unchecked-hash "$tmp" >&2
fi
cp "$src/app.py" "$src/bootstrap" "$tmp/"
chmod -R go+rX "$tmp"
echo "$stamp" > "$tmp/.fixture-stamp"
rm -rf "$dir.old" && { [ ! -e "$dir" ] || mv "$dir" "$dir.old"; }
mv "$tmp" "$dir"
rm -rf "$dir.old"
echo "$dir"
