# Recipe for the python3.11 runtime (sourced by rootfs/build.sh). Debian 12's Python 3.11 on a
# minbase bookworm, the full standard library byte-compiled, nothing a function cannot use.
recipe_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RECIPE_TOOLS=(debootstrap)

SUITE=bookworm
MIRROR=http://deb.debian.org/debian
# On top of minbase: the interpreter and the whole standard library (libpython3.11-stdlib pulls
# the libraries its C modules link: ssl, sqlite3, ctypes, bz2, lzma, dbm, readline ...),
# /usr/bin/python3, CA certificates for ssl, tzdata for zoneinfo, and libstdc++, which manylinux
# wheels (awslambdaric's included) expect the system to provide.
INCLUDE=(python3.11-minimal libpython3.11-stdlib python3-minimal ca-certificates tzdata libstdc++6)
# Installed by minbase, useless in a function sandbox: package download and verification,
# filesystem tools, and the libraries only they use. dpkg and its database stay, so the tree
# can be audited (dpkg -l) and extended by a later layer.
PURGE=(apt libapt-pkg6.0 gpgv debian-archive-keyring e2fsprogs libext2fs2 libss2 logsave
  libgnutls30 libhogweed6 libnettle8 libp11-kit0 libtasn1-6 libidn2-0 libunistring2
  libseccomp2 libxxhash0)
# Downloaded .debs are kept here, so a rebuild does not download again.
DEB_CACHE=${CELLA_CACHE_DIR:-/var/cache/cella}/debootstrap

# Nothing beyond this file's text decides the base (package versions come from the mirror:
# rebuild with --rebuild to take Debian's point releases).
recipe_inputs() { :; }

build_base() {
  local d=$1
  mkdir -p "$DEB_CACHE"
  log "debootstrap $SUITE (minbase + ${#INCLUDE[@]} packages)"
  debootstrap --variant=minbase --include="$(IFS=,; echo "${INCLUDE[*]}")" \
    --cache-dir="$DEB_CACHE" "$SUITE" "$d" "$MIRROR" >&2
  chroot "$d" dpkg --purge "${PURGE[@]}" >/dev/null

  # Byte-compile the standard library once, hash-based and unchecked: the root is read-only, so
  # Python can neither write pycs nor need to stat sources to validate them, and the pycs do not
  # depend on file times. Debian's own timestamp-based pycs go first; -f because compileall
  # skips a pyc whose header matches its source's time, and -B so that the compiling Python
  # writes no timestamp pycs of its own imports (a stale pyc is recompiled at every start).
  log "byte-compiling the standard library"
  find "$d/usr/lib/python3.11" -name __pycache__ -prune -exec rm -rf {} +
  chroot "$d" /usr/bin/python3.11 -I -B -m compileall -q -f --invalidation-mode unchecked-hash \
    /usr/lib/python3.11 >&2
  chroot "$d" /usr/bin/python3.11 -I -B -c '
import glob, sys
bad = [f for f in glob.glob("/usr/lib/python3.11/**/*.pyc", recursive=True)
       if open(f, "rb").read(8)[4:8] != b"\x01\0\0\0"]
sys.exit(f"not unchecked-hash pycs: {bad[:5]} ({len(bad)})" if bad else 0)' 
  # Debian's sitecustomize (and its link in the stdlib) only tries to import apport, which is
  # not here: a failed import (a search of sys.path) at every start.
  rm -f "$d/etc/python3.11/sitecustomize.py" "$d/usr/lib/python3.11/sitecustomize.py"
  # Lambda's interpreter path, for bootstraps written for Lambda.
  mkdir -p "$d/var/lang/bin"
  ln -s /usr/bin/python3.11 "$d/var/lang/bin/python3"
  ln -s /usr/bin/python3.11 "$d/var/lang/bin/python"

  log "stripping caches, logs, docs and what varies between builds"
  rm -rf "$d"/var/cache/apt "$d"/var/lib/apt "$d"/var/log/* "$d"/usr/share/locale/* \
    "$d"/usr/share/man "$d"/usr/share/info "$d"/usr/share/lintian "$d"/usr/share/bash-completion \
    "$d"/var/cache/debconf/*-old "$d"/var/lib/dpkg/*-old "$d"/var/cache/ldconfig/aux-cache \
    "$d"/etc/*- "$d"/etc/machine-id "$d"/var/lib/dbus/machine-id
  # Licences stay (copyright files), documentation goes.
  find "$d/usr/share/doc" -type f ! -name copyright -delete
  find "$d/usr/share/doc" -depth -type d -empty -delete
  # debootstrap copies the host's resolv.conf and hostname; there is no network in a sandbox.
  : > "$d/etc/resolv.conf"
  echo cella > "$d/etc/hostname"
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$d/etc/hosts"
  # Password ages count days from the day of the build.
  sed -i -E "s/^([^:]*:[^:]*:)[0-9]+:/\1$((SOURCE_DATE_EPOCH / 86400)):/" "$d/etc/shadow"
}

# Cella's runtime client at /var/runtime, its module byte-compiled by the rootfs's own Python
# (hash-based: the pyc is valid whatever the files' times, and the layer is read-only).
build_layer() {
  local d=$1 root=$2 src=$recipe_dir/runtime module
  install -d "$d/var/runtime/__pycache__"
  install -m 0755 "$src/bootstrap" "$d/var/runtime/bootstrap"
  # cella_template: the template protocol (docs/runtime-snapshots.md), imported only by templates;
  # snapshot_restore_py: SnapStart's hook API on top of it.
  for module in cella_runtime cella_template snapshot_restore_py; do
    install -m 0644 "$src/$module.py" "$d/var/runtime/$module.py"
    chroot "$root" /usr/bin/python3.11 -I -B -c '
import sys, importlib.util, importlib._bootstrap_external as ext
src = sys.stdin.buffer.read()
code = compile(src, "/var/runtime/" + sys.argv[1] + ".py", "exec", dont_inherit=True)
sys.stdout.buffer.write(ext._code_to_hash_pyc(code, importlib.util.source_hash(src), False))
' "$module" < "$src/$module.py" > "$d/var/runtime/__pycache__/$module.cpython-311.pyc"
  done
}

runtime_json() {
  cat <<'JSON'
{
  "name": "python3.11",
  "layers": ["layer", "rootfs"],
  "bootstrap": "/var/runtime/bootstrap",
  "templates": "cella-template-2",
  "environment": {
    "PATH": "/var/lang/bin:/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LAMBDA_RUNTIME_DIR": "/var/runtime"
  }
}
JSON
}
