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
for create in ATOMIC MUTEX CHECKWRITE; do
  rm -f pan pan.* ./*.trail
  spin -DCREATE=$create -a "$model" >/dev/null
  cc -O2 -DSAFETY -DCOLLAPSE -w -o pan pan.c
  out=$(./pan -m200000 2>&1)
  errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' <<<"$out")
  states=$(sed -n 's/^ *\([0-9e.+]*\) states, stored.*/\1/p' <<<"$out")
  if grep -q "max search depth too small" <<<"$out"; then
    echo "model $create: FAILED: search depth too small"; status=1
  elif [ "$create" = CHECKWRITE ]; then
    if [ "$errors" != 0 ] && grep -q "assertion violated" <<<"$out"; then
      echo "model $create: passed (two holders found, as expected;" \
           "$(grep -o 'assertion violated.*' <<<"$out" | head -1))"
    else
      echo "model $create: FAILED: check-then-write was not caught"
      status=1
    fi
  elif [ "$errors" = 0 ]; then
    echo "model $create: passed ($states states, no violation," \
         "no invalid end state)"
  else
    echo "model $create: FAILED"; echo "$out" | head -20
    spin -DCREATE=$create -t -p "$model" 2>&1 | tail -40 || true
    status=1
  fi
done
exit $status
