#!/usr/bin/env bash
# Installs the Debian packages pfs needs, by group. Idempotent: a package that
# `dpkg -s` reports installed is skipped; `apt-get update` runs at most once,
# and only when something is missing. Needs root (or sudo) when it installs.
#
# Usage: scripts/install-system-deps.sh [--dry-run] [group ...]     (default: fuse)
#   --dry-run   print what is missing, install nothing
#   fuse    fuse libfuse2          fuse-native's fuse.node links libfuse.so.2; fusermount
#   swift   swift swift-proxy swift-account swift-container swift-object python3-swift
#           memcached curl   (the one-node Swift the integration tests run; installed
#           without recommends, with service start-up blocked by policy-rc.d)
#   sqlite  sqlite3                the sqlite3 CLI (better-sqlite3 bundles its own library)
#   tools   git tar python3        only when the command is not already on PATH
#           openssl                (`pfs ca`: the volume's CA for mutual TLS; the TLS tests)
#           util-linux-extra       (fincore: the local store's page-cache test)
#           tzdata                 (/usr/share/zoneinfo: the real tree programs.test.ts copies)
#   all     every group above
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

dry_run=0
if [ "${1-}" = "--dry-run" ]; then dry_run=1; shift; fi
groups=("$@")
[ ${#groups[@]} -eq 0 ] && groups=(fuse)

packages_for() {
  case "$1" in
    fuse) echo "fuse libfuse2" ;;
    swift) echo "swift swift-proxy swift-account swift-container swift-object python3-swift memcached curl" ;;
    sqlite) echo "sqlite3" ;;
    tools)
      # A command already on PATH (pyenv's python3, say) counts as present.
      local cmd
      for cmd in git tar python3 openssl; do
        command -v "$cmd" >/dev/null 2>&1 || echo "$cmd"
      done
      command -v fincore >/dev/null 2>&1 || echo util-linux-extra
      [ -d /usr/share/zoneinfo/America ] || echo tzdata
      ;;
    all) for g in fuse swift sqlite tools; do packages_for "$g"; done ;;
    *) echo "install-system-deps: unknown group '$1' (fuse, swift, sqlite, tools, all)" >&2; return 1 ;;
  esac
}

installed() {
  dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed'
}

missing=()
for g in "${groups[@]}"; do
  list=$(packages_for "$g") || exit 2
  for p in $list; do
    if ! installed "$p" && [[ " ${missing[*]-} " != *" $p "* ]]; then
      missing+=("$p")
    fi
  done
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-system-deps: nothing to install (${groups[*]})"
  exit 0
fi

if [ "$dry_run" -eq 1 ]; then
  echo "install-system-deps: would install ${missing[*]}"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-system-deps: need root to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo -E"
fi

echo "install-system-deps: installing ${missing[*]}"
# Packages must not start services (Swift's and memcached's units): our scripts run them on
# loopback themselves. policy-rc.d exiting 101 tells invoke-rc.d so; add one only for the install.
policy=/usr/sbin/policy-rc.d
added_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  added_policy=1
fi
trap '[ "$added_policy" -eq 1 ] && $SUDO rm -f "$policy"' EXIT
$SUDO apt-get update -qq
# A config file already there (the test Swift's, written by scripts/swift-aio.sh before an
# earlier install failed) must not stop dpkg at a prompt no one answers: keep it. A package left
# unpacked but not configured by an interrupted install is configured first.
confopts=(-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
$SUDO dpkg --force-confdef --force-confold --configure -a || true
$SUDO apt-get install -y -qq --no-install-recommends "${confopts[@]}" "${missing[@]}"

if [[ " ${missing[*]} " == *" fuse "* ]] && [ ! -e /dev/fuse ]; then
  echo "install-system-deps: warning: /dev/fuse is missing (the container needs --device /dev/fuse)" >&2
fi
