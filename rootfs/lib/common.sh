# Helpers shared by rootfs/build.sh and the recipes (sourced, not run). A change here changes every
# runtime's recipe hash, so every base is rebuilt once after it.

# Fixed time for every timestamp in a built tree: the Debian 12.0 release (2023-06-10 00:00 UTC).
# A recipe may set its own before sourcing; the build never reads the clock.
: "${SOURCE_DATE_EPOCH:=1686355200}"
export SOURCE_DATE_EPOCH

log() { printf '[build %s] %s\n' "${RUNTIME_NAME:-?}" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Prints a digest of a tree: every entry's path, type, mode, owner, mtime and link target,
# and every regular file's content (not directory sizes: ext4 directories stay grown after
# entries are removed). Two builds of the same recipe from the same packages print
# the same digest (the reproducibility check in docs/runtimes.md compares them).
tree_digest() {
  ( cd "$1" &&
    { find . -printf '%y %m %U:%G %T@ %p -> %l\n' | LC_ALL=C sort
      find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum; } ) | sha256sum | cut -c1-64
}

# Makes a tree safe and uniform for every sandbox: no setuid/setgid bits (no_new_privs makes them
# inert, but a rootfs should not rely on that), everything readable and every directory
# searchable by others (the sandbox's host uid is unprivileged and sees unmapped owners as
# nobody), and every timestamp SOURCE_DATE_EPOCH (pycs are hash-based, so no mtime is checked).
normalize_tree() {
  find "$1" ! -type l -perm /6000 -exec chmod ug-s {} +
  chmod -R go+rX "$1"
  find "$1" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
}

# The directories the sandbox mounts over, and the sandbox user. /etc/passwd gains uid 1000 only
# if the recipe did not make one.
add_sandbox_skeleton() {
  local d=$1
  mkdir -p "$d/proc" "$d/dev" "$d/tmp" "$d/var/task" "$d/etc"
  chmod 0755 "$d/proc" "$d/dev" "$d/var/task"
  chmod 1777 "$d/tmp"
  grep -q '^[^:]*:[^:]*:1000:' "$d/etc/passwd" 2>/dev/null ||
    echo 'sbx_user:x:1000:1000:function:/tmp:/bin/sh' >> "$d/etc/passwd"
  grep -q '^[^:]*:[^:]*:1000:' "$d/etc/group" 2>/dev/null ||
    echo 'sbx_user:x:1000:' >> "$d/etc/group"
}

# Unmounts anything left mounted below a directory (debootstrap mounts /proc and /sys in its
# target and may die before unmounting them), then removes it without crossing filesystems.
remove_tree() {
  local d=$1 m
  [ -e "$d" ] || return 0
  d=$(realpath "$d")
  # Deepest mounts first.
  for m in $(findmnt -rn -o TARGET | grep -F "$d/" | sort -r); do umount -l "$m" || true; done
  rm -rf --one-file-system "$d"
}

# Puts a finished tree in place as DIR/NAME.<digest> and points the link DIR/NAME at it with one
# rename: an instance starting at any moment mounts one complete tree, and one already running
# keeps the tree it mounted. The version the link pointed at before stays (instances may still
# run on it); older versions are removed. Prints "unchanged" or "updated".
publish() {
  local dir=$1 name=$2 tmp=$3 digest=$4 previous="" old
  local version=$name.${digest:0:12}
  [ -L "$dir/$name" ] && previous=$(readlink "$dir/$name")
  if [ "$previous" = "$version" ]; then remove_tree "$tmp"; echo unchanged; return; fi
  if [ -d "$dir/$version" ]; then remove_tree "$tmp"; else mv "$tmp" "$dir/$version"; fi
  if [ -d "$dir/$name" ] && [ ! -L "$dir/$name" ]; then   # a tree from before versions
    previous=$name.unversioned
    remove_tree "$dir/$previous"
    mv "$dir/$name" "$dir/$previous"
  fi
  ln -sfn "$version" "$dir/.$name.link"
  mv -T "$dir/.$name.link" "$dir/$name"
  for old in "$dir/$name".*; do
    [ -d "$old" ] && [ ! -L "$old" ] || continue
    case ${old##*/} in "$version"|"$previous") ;; *) remove_tree "$old" ;; esac
  done
  echo updated
}

# Writes stdin to a file atomically (same directory, then rename).
write_atomic() {
  local f=$1
  cat > "$f.tmp.$$" && mv -f "$f.tmp.$$" "$f"
}
