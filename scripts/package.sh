#!/usr/bin/env bash
# Builds the .deb from a build tree (cpack), checks it with lintian, installs
# it with apt-get, tries what it installed for real (man page, systemd unit,
# bash completion, mount -t fuse.relayfs, an fstab line, relayfs status),
# and removes it with dpkg -r. Usage: scripts/package.sh BUILD_DIR. Root.
set -euo pipefail

build=$(realpath "${1:?usage: scripts/package.sh BUILD_DIR}")
work=$(mktemp -d /tmp/relayfs-package.XXXXXX)
mnt=$work/mnt
installed=false

fail() { echo "package.sh: $*" >&2; exit 1; }

cleanup() {
  mountpoint -q "$mnt" 2>/dev/null && umount "$mnt" || true
  if $installed; then
    dpkg -r relayfs >/dev/null || echo "package.sh: dpkg -r relayfs failed" >&2
  fi
  rm -rf "$work"
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || fail "needs root (apt-get install, mount)"
if dpkg-query -W -f='${Status}' relayfs 2>/dev/null | grep -q "ok installed"; then
  fail "a relayfs package is installed already; remove it first (dpkg -r relayfs)"
fi

echo "== cpack"
(cd "$build" && cpack -G DEB -B "$work/deb" >/dev/null 2>&1) || fail "cpack failed"
deb=$(ls "$work"/deb/relayfs_*.deb)

echo "== lintian $(basename "$deb")"
lintian --fail-on error,warning "$deb" 2>&1 | grep -v "root privileges" || true
lintian --fail-on error,warning "$deb" >/dev/null 2>&1 ||
  fail "lintian found errors or warnings"

echo "== apt-get install"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  "$deb" >/dev/null
installed=true
dpkg -s relayfs | grep -q "^Depends:.*fuse3" || fail "Depends lacks fuse3"

echo "== what it installed"
[ "$(command -v relayfs)" = /usr/bin/relayfs ] || fail "relayfs not on PATH"
relayfs --version | head -1
man -w relayfs | grep -q "/usr/share/man/man1/relayfs.1.gz" ||
  fail "man relayfs finds no page"
MANWIDTH=80 man --warnings relayfs >/dev/null 2>"$work/man.err" || true
[ ! -s "$work/man.err" ] || { cat "$work/man.err"; fail "man page warnings"; }
systemd-analyze verify relayfs@example.service ||
  fail "systemd-analyze verify relayfs@example.service"
bash -n /usr/share/bash-completion/completions/relayfs
got=$(bash -c 'source /usr/share/bash-completion/bash_completion
  source /usr/share/bash-completion/completions/relayfs
  COMP_WORDS=(relayfs -o "client=x,pul"); COMP_CWORD=2
  COMP_LINE="relayfs -o client=x,pul"; COMP_POINT=${#COMP_LINE}
  _relayfs relayfs pul -o 2>/dev/null; echo "${COMPREPLY[*]}"')
[ "$got" = "client=x,pullers=" ] || fail "bash completion gave '$got'"
[ -f /usr/share/doc/relayfs/relayfs.conf.example ] || fail "no example config"

echo "== mount -t fuse.relayfs"
mkdir -p "$work/relay" "$mnt"
export XDG_CACHE_HOME=$work/cache XDG_CONFIG_HOME=$work/config
mount -t fuse.relayfs "$work/relay" "$mnt" -o client=pkg,_netdev
mountpoint -q "$mnt" || fail "mount -t fuse.relayfs did not mount"
findmnt -n -o FSTYPE "$mnt" | grep -qx fuse.relayfs || fail "not fuse.relayfs"
echo hello > "$mnt/hello.txt"
[ "$(cat "$work/relay/hello.txt")" = hello ] || fail "the write did not land"
relayfs status "$mnt" | grep -q "client     pkg" || fail "relayfs status"
umount "$mnt"

echo "== an fstab line, then mount MOUNTPOINT"
printf '%s %s fuse.relayfs client=fstab,_netdev,noauto,nofail,x-systemd.automount 0 0\n' \
  "$work/relay" "$mnt" > "$work/fstab"
mount -T "$work/fstab" "$mnt"
mountpoint -q "$mnt" || fail "mount by fstab line did not mount"
[ "$(cat "$mnt/hello.txt")" = hello ] || fail "the fstab mount reads wrong"
umount "$mnt"

echo "== dpkg -r"
dpkg -r relayfs >/dev/null
installed=false
[ ! -e /usr/bin/relayfs ] && [ ! -e /lib/systemd/system/relayfs@.service ] ||
  fail "dpkg -r left files behind"
echo "package.sh: ok"
