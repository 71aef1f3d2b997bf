# Recipe for the provided runtime (sourced by rootfs/build.sh): a busybox-static tree for
# functions that bring their own bootstrap (/var/task/bootstrap), such as a shell script or a
# static binary speaking the Runtime API.
recipe_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RECIPE_TOOLS=(busybox-static)

# The base is busybox.sh's tree; the busybox binary it copies is part of the recipe.
recipe_inputs() { cat "$recipe_dir/../busybox.sh"; sha256sum < /bin/busybox; }

build_base() { bash "$recipe_dir/../busybox.sh" "$1" >/dev/null; }

build_layer() { :; }

runtime_json() {
  cat <<'JSON'
{
  "name": "provided",
  "layers": ["rootfs"],
  "bootstrap": "/var/task/bootstrap",
  "environment": {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8"
  }
}
JSON
}
