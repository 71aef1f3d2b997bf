#!/usr/bin/env bash
# Builds runtimes for the agent: rootfs/build.sh [--rebuild] NAME...   (as root)
#
# For each NAME (a directory rootfs/NAME with a recipe.sh) it makes
#   ${CELLA_RUNTIMES_DIR:-/var/lib/cella/runtimes}/NAME/
#     rootfs -> rootfs.<digest>/  the base root filesystem, rebuilt only when the recipe changes
#     rootfs.stamp                "recipe <hash>" and "digest <tree digest>" of the current base
#     layer -> layer.<digest>/    Cella's runtime client laid out from /, made from the repository
#                                 on every run (it replaces the old one only if it differs)
#     runtime.json                what the agent reads (format: docs/runtimes.md), written last
# and prints the runtime directory as the last line of stdout. Progress goes to stderr.
#
# Nothing half-built ever looks finished: each tree is built in a hidden temporary directory,
# renamed to its versioned name when complete, and the link is switched with one rename (see
# publish in lib/common.sh). A lock serialises concurrent builds of one runtime.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
runtimes=${CELLA_RUNTIMES_DIR:-/var/lib/cella/runtimes}
rebuild=0
if [ "${1:-}" = --rebuild ]; then rebuild=1; shift; fi
[ $# -gt 0 ] || { echo "usage: $0 [--rebuild] NAME...  (runtimes: $(cd "$here" && ls -d */recipe.sh | cut -d/ -f1 | tr '\n' ' '))" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "$0: must run as root (debootstrap, chroot)" >&2; exit 1; }

# Every base recipe declares the commands it needs; this installs the Debian packages that
# provide them, once.
ensure_tools() {
  local pkg missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "[build] installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
    { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; }
}

build_one() (
  RUNTIME_NAME=$1
  recipe=$here/$RUNTIME_NAME/recipe.sh
  [ -f "$recipe" ] || { echo "[build] unknown runtime '$RUNTIME_NAME' (no $recipe)" >&2; exit 2; }
  # shellcheck source=rootfs/lib/common.sh
  . "$here/lib/common.sh"
  # shellcheck disable=SC1090
  . "$recipe"   # defines RECIPE_TOOLS, recipe_inputs, build_base, build_layer, runtime_json
  ensure_tools "${RECIPE_TOOLS[@]}"

  dir=$runtimes/$RUNTIME_NAME
  mkdir -p "$dir"
  exec 9> "$dir/.lock"
  flock 9

  # The base's identity: this script's shared helpers, the recipe, and whatever the recipe says
  # it depends on beyond its text (e.g. the busybox binary it copies).
  hash=$( { cat "$here/lib/common.sh" "$recipe"; recipe_inputs; } | sha256sum | cut -c1-64)
  if [ $rebuild = 1 ] || [ ! -d "$dir/rootfs" ] ||
     [ "$(sed -n 's/^recipe //p' "$dir/rootfs.stamp" 2>/dev/null)" != "$hash" ]; then
    log "building base (recipe ${hash:0:12})"
    start=$(date +%s%N)
    tmp=$dir/.rootfs.tmp
    remove_tree "$tmp"
    trap 'remove_tree "$tmp"' EXIT
    mkdir "$tmp"
    build_base "$tmp"
    add_sandbox_skeleton "$tmp"
    normalize_tree "$tmp"
    digest=$(tree_digest "$tmp")
    rm -f "$dir/rootfs.stamp"
    publish "$dir" rootfs "$tmp" "$digest" >/dev/null
    trap - EXIT
    printf 'recipe %s\ndigest %s\n' "$hash" "$digest" | write_atomic "$dir/rootfs.stamp"
    log "base done in $(( ($(date +%s%N) - start) / 1000000 )) ms: $(du -sh "$dir/rootfs/" | cut -f1), digest ${digest:0:12}"
  else
    log "base up to date (recipe ${hash:0:12})"
  fi

  # The layer is cheap to make, so it is made every time; publish leaves the link alone when
  # the content is the same.
  tmp=$dir/.layer.tmp
  remove_tree "$tmp"
  trap 'remove_tree "$tmp"' EXIT
  mkdir "$tmp"
  build_layer "$tmp" "$dir/rootfs"
  normalize_tree "$tmp"
  log "layer $(publish "$dir" layer "$tmp" "$(tree_digest "$tmp")")"
  trap - EXIT

  runtime_json | write_atomic "$dir/runtime.json"
  echo "$dir"
)

for name in "$@"; do build_one "$name"; done
