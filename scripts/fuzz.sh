#!/usr/bin/env bash
# Builds the parsers' libFuzzer targets (tests/fuzz) with clang and runs
# each for a bounded time (FUZZ_SECONDS, default 20) from its seed corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-20}
out=${1:-build-fuzz}
mkdir -p "$out"
flags=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -D_GNU_SOURCE -I. $(pkg-config --cflags glib-2.0 libxml-2.0 libcurl))
libs=($(pkg-config --libs glib-2.0 libxml-2.0 libcurl))
build() { clang "${flags[@]}" "$@" "${libs[@]}"; }
build -o "$out/fuzz_lock" tests/fuzz/fuzz_lock.c relay/lockfile.c relay/text.c
build -o "$out/fuzz_placeholder" tests/fuzz/fuzz_placeholder.c \
  relay/placeholder.c relay/text.c
build -o "$out/fuzz_propfind" tests/fuzz/fuzz_propfind.c \
  relay/backends/webdav_xml.c
# backend_entry_free is defined in the target: relay/backend.c would bring
# in every backend through the registry
build -o "$out/fuzz_ftp_listing" tests/fuzz/fuzz_ftp_listing.c \
  relay/backends/ftp_listing.c
for t in lock placeholder propfind ftp_listing; do
  work="$out/corpus-$t"
  log="$out/fuzz_$t.log"
  mkdir -p "$work"
  echo "== fuzz_$t for ${seconds}s"
  if ! (cd "$out" && "./fuzz_$t" -max_total_time="$seconds" -max_len=65536 \
        -print_final_stats=1 "corpus-$t" "$OLDPWD/tests/fuzz/corpus/$t" \
        >"fuzz_$t.log" 2>&1); then
    tail -40 "$log" >&2
    echo "fuzz_$t found a problem: see $log and $out/crash-*" >&2
    exit 1
  fi
  grep -E "stat::number_of_executed_units" "$log" || true
done
