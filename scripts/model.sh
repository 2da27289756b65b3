#!/usr/bin/env bash
# Checks the protocol model relay/model/relay.pml with spin, for each way a
# lock file can be created: it must hold where relayfs creates locks
# (ATOMIC, MUTEX), and find two holders where a client checks then writes
# (CHECKWRITE, as escale does), which shows the checks can fail.
set -euo pipefail
cd "$(dirname "$0")/.."
model=$PWD/relay/model/relay.pml
work=$(mktemp -d /tmp/relayfs-model.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
status=0
# Two scopes, each small enough for a test run: two versions racing one
# pull (pullers=1), and the multi-puller rule on one version (pullers=2);
# three clients either way. The whole of both at once (two versions,
# pullers=2, two operations each) has over 10^8 states.
scopes=("-DP=1 -DOPS=1 -DMAXPUSH=2" "-DP=2 -DOPS=2 -DMAXPUSH=1")
for create in ATOMIC MUTEX CHECKWRITE; do
 for scope in "${scopes[@]}"; do
  [ "$create" = CHECKWRITE ] && [ "$scope" != "${scopes[0]}" ] && continue
  rm -f pan pan.* ./*.trail
  spin -DCREATE=$create $scope -a "$model" >/dev/null
  cc -O2 -DSAFETY -DCOLLAPSE -w -o pan pan.c
  out=$(./pan -m200000 2>&1)
  errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' <<<"$out")
  states=$(sed -n 's/^ *\([0-9e.+]*\) states, stored.*/\1/p' <<<"$out")
  name="$create ($scope)"
  if grep -q "max search depth too small" <<<"$out"; then
    echo "model $name: FAILED: search depth too small"; status=1
  elif [ "$create" = CHECKWRITE ]; then
    if [ "$errors" != 0 ] && grep -q "assertion violated" <<<"$out"; then
      echo "model $name: passed (two holders found, as expected;" \
           "$(grep -o 'assertion violated.*' <<<"$out" | head -1))"
    else
      echo "model $name: FAILED: check-then-write was not caught"
      status=1
    fi
  elif [ "$errors" = 0 ]; then
    echo "model $name: passed ($states states, no violation," \
         "no invalid end state)"
  else
    echo "model $name: FAILED"; echo "$out" | head -20
    spin -DCREATE=$create $scope -t -p "$model" 2>&1 | tail -40 || true
    status=1
  fi
 done
done
exit $status
