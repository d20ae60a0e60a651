#!/bin/bash
# make install / make uninstall: copies the built tree to PREFIX (default /opt/pfs) and links
# mount(8)'s helper SBINDIR/mount.pfs (default /sbin) to PREFIX/bin/mount.pfs.
#   scripts/install.sh install PREFIX SBINDIR
#   scripts/install.sh uninstall PREFIX SBINDIR
set -euo pipefail
action=$1 prefix=$2 sbindir=$3
top=$(cd "$(dirname "$0")/.." && pwd)
case "$action" in
  install)
    [ -f "$top/dist/src/agent/main.js" ] || { echo "install: nothing built (make build)" >&2; exit 1; }
    mkdir -p "$prefix"
    for d in dist node_modules conf; do rm -rf "${prefix:?}/$d"; cp -a "$top/$d" "$prefix/$d"; done
    cp "$top/package.json" "$prefix/"
    # The native addons, where packageRoot() finds them (src/**/native/build/*.node).
    (cd "$top" && find src -path '*/native/build/*.node' -print0) | while IFS= read -r -d '' f; do
      mkdir -p "$prefix/$(dirname "$f")"; cp "$top/$f" "$prefix/$f"
    done
    mkdir -p "$prefix/bin"
    # Launchers written for this prefix (scripts/make-bin.sh resolves dist/ from their own place).
    sh "$top/scripts/make-bin.sh" >/dev/null
    cp -a "$top/bin/." "$prefix/bin/"
    mkdir -p "$sbindir"
    ln -sfn "$prefix/bin/mount.pfs" "$sbindir/mount.pfs"
    echo "installed pfs in $prefix; mount(8) helper $sbindir/mount.pfs"
    ;;
  uninstall)
    if [ "$(readlink "$sbindir/mount.pfs" 2>/dev/null || true)" = "$prefix/bin/mount.pfs" ]; then rm -f "$sbindir/mount.pfs"; fi
    for d in dist node_modules conf bin src; do rm -rf "${prefix:?}/$d"; done
    rm -f "$prefix/package.json"
    rmdir "$prefix" 2>/dev/null || true
    echo "removed pfs from $prefix"
    ;;
  *) echo "usage: scripts/install.sh install|uninstall PREFIX SBINDIR" >&2; exit 2 ;;
esac
