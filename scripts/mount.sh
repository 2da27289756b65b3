#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, and mounts
# a relay on MOUNTPOINT (the embedded default relay unless one is given).
# Usage: scripts/mount.sh MOUNTPOINT [relayfs options]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
"$here/deps.sh" build
"$here/build.sh" build >/dev/null
if [ $# -ge 1 ] && [ -n "$1" ] && [ "${1#-}" = "$1" ] && [ ! -e "$1" ]; then
  mkdir -p "$1"
fi
exec "$here/../build/relayfs" "$@"
