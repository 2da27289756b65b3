#!/usr/bin/env bash
# The README's test command: installs what is missing, builds from scratch,
# and runs every test (unit and integration, through ctest), then again
# with AddressSanitizer and UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build test
[ -e /dev/fuse ] || modprobe fuse 2>/dev/null || true

rm -rf build build-asan
echo "== build and test"
scripts/build.sh build
(cd build && ctest -j2 --output-on-failure --timeout 1200)

echo "== fuzz the parsers (libFuzzer, bounded)"
rm -rf build-fuzz
FUZZ_SECONDS=${FUZZ_SECONDS:-20} scripts/fuzz.sh build-fuzz

echo "== build and test under ASan + UBSan"
scripts/build.sh build-asan -DRELAYFS_SANITIZE=ON
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=23
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0
(cd build-asan && ctest -j2 --output-on-failure --timeout 1200)
