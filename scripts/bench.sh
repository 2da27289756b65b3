#!/usr/bin/env bash
# Benchmarks relayfs against the tools a user would use instead, in one run
# against one local Apache mod_dav (files on tmpfs), and on FTP and SFTP
# (pure-ftpd, sshd) relayfs beside curl: curl straight to the
# server (one process per step, connection reused), `rclone mount
# --vfs-cache-mode full` and davfs2. Prints seconds per tool, the ratios
# relayfs time / other tool's time, and the requests each needs (counted
# from Apache's access log). Absolute times on a shared machine are noise;
# quote the ratios of one run. Needs root (davfs2, drop_caches, apt).
#
# Settings (environment):
#   BENCH_SIZE_MB   large file size in MiB (default 256)
#   BENCH_FILES     number of small files (default 1000)
#   BENCH_SMALL_KB  size of each small file in KiB (default 4)
#   BENCH_LIST_FILES files of 1 KiB in the folder "another client" wrote
#                   (each with its placeholder, put straight on the
#                   server before the reader mounts), listed cold with
#                   `ls -l` (curl: PROPFIND Depth 1; FTP/SFTP: LIST) by
#                   every tool (default 10000)
#   BENCH_RUNS      runs; each figure is the median (default 3)
#   BENCH_TOOLS     tools to run (default "curl relayfs rclone davfs2
#                   curl-ftp relayfs-ftp curl-sftp relayfs-sftp"; also
#                   relayfs-wb, relayfs with -o writeback=BENCH_WRITEBACK)
#   BENCH_WRITEBACK seconds of rest for relayfs-wb (default 1; e.g. 0.2)
#   BENCH_DIR       where the work folder goes (default /dev/shm, a tmpfs)
#   BENCH_TIMEOUT   seconds before a step counts as hung (default 600)
#   BENCH_JSON      also write the raw figures to this file
#   BENCH_RTT_MS    also run the WebDAV tools through scripts/delay_proxy.py
#                   with this round trip (as TOOL@wan), e.g. 20
# Exit status: 0, or 1 when a step failed or gave wrong bytes (listed under
# PROBLEMS at the end of the output).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"

if [ "$(id -u)" -ne 0 ]; then
  echo "bench.sh: run as root (davfs2 mounts, drop_caches, apt)" >&2
  exit 1
fi

"$here/deps.sh" build test
missing=()
for p in rclone davfs2 curl; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
    missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

"$repo/scripts/build.sh" build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null

base=${BENCH_DIR:-/dev/shm}
[ -d "$base" ] && [ -w "$base" ] || base=${TMPDIR:-/tmp}
work="$(mktemp -d "$base/relayfs-bench.XXXXXX")"
chmod 755 "$work"
py_pgid=""

cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  set +e
  # bench.py first: it unmounts and stops what it started itself
  [ -f "$work/pids" ] && py_pgid=$(awk '$1 == "group" {print $2}' "$work/pids")
  if [ -n "$py_pgid" ] && kill -0 -- "-$py_pgid" 2>/dev/null; then
    kill -TERM "$py_pgid" 2>/dev/null   # the leader: bench.py
    for _ in $(seq 600); do
      kill -0 -- "-$py_pgid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$py_pgid" 2>/dev/null
  fi
  # then any mount left under the work folder, deepest first
  local mnt type
  while read -r mnt type; do
    case "$type" in
      fuse.*) fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" ;;
      *) umount "$mnt" 2>/dev/null || umount -l "$mnt" ;;
    esac
  done < <(awk -v w="$work/" 'index($2, w) == 1 {print $2, $3}' \
             /proc/self/mounts | sort -r)
  # and any process it recorded that is still there (relayfs, rclone,
  # Apache's process group)
  if [ -f "$work/pids" ]; then
    local kind pid
    while read -r kind pid; do
      case "$kind" in
        group) ;;
        apache|ftp|sftp) kill -TERM -- "-$pid" 2>/dev/null ;;
        *) kill -TERM "$pid" 2>/dev/null ;;
      esac
    done < "$work/pids"
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# bench.py runs in a session of its own so that the trap can stop it and
# everything it started (its process group) at once
BENCH_WORK="$work" BENCH_RELAYFS="$repo/build-bench/relayfs" \
  setsid -w python3 "$here/bench.py" &
wait $!
