#!/usr/bin/env bash
# Installs from Debian's packages what relayfs needs to build (build) and
# to run its tests (test); installs only what is missing. Needs root.
set -euo pipefail

build_pkgs=(cmake gcc make pkg-config fuse3 libfuse3-dev libcurl4-openssl-dev
            libglib2.0-dev libxml2-dev libssl-dev libsystemd-dev)
test_pkgs=(python3 python3-pytest apache2 apache2-utils openssl attr curl
           procps psmisc util-linux clang libclang-rt-14-dev spin
           nginx-extras lighttpd lighttpd-mod-webdav rclone
           pure-ftpd openssh-server openssh-client acl
           lintian man-db dpkg-dev file bash-completion)

want=()
for what in "$@"; do
  case "$what" in
    build) want+=("${build_pkgs[@]}") ;;
    test) want+=("${test_pkgs[@]}") ;;
    *) echo "deps.sh: unknown set '$what' (build, test)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
    missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "deps.sh: missing packages: ${missing[*]}; run as root or install them" >&2
  exit 1
fi
echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# the server packages must not start their services (the tests start
# their own on free ports): policy-rc.d says no while we install
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod +x "$policy"
  trap 'rm -f "$policy"' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
