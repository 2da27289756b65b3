#!/usr/bin/env bash
# Checks the layers of DESIGN.md's layout by their #includes: fs/ (FUSE)
# sees relay/ and cache/ but no backend; relay/ sees neither fs/ nor
# cache/, and only its dispatcher sees the backend tables (registry.h);
# a backend sees relay/backend.h and its fellow backends' helpers alone;
# cache/ sees only itself. Prints each include that breaks a rule.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=0
check() { # folder, extended regex of the includes allowed there
  local dir=$1 allowed=$2 f line
  for f in "$dir"/*.c "$dir"/*.h; do
    while IFS= read -r line; do
      inc=${line#*\"}; inc=${inc%%\"*}
      if ! [[ $inc =~ ^($allowed)$ ]]; then
        echo "layering: $f includes $inc"
        bad=1
      fi
    done < <(grep -E '^#include "' "$f" || true)
  done
}
check fs 'fs/[a-z_]+\.h|relay/(backend|names|relay)\.h|cache/[a-z_]+\.h'
check relay 'relay/[a-z_]+\.h|relay/backends/registry\.h'
check relay/backends 'relay/backend\.h|relay/backends/[a-z_]+\.h'
check cache 'cache/[a-z_]+\.h'
# the backend tables: the dispatcher alone (and tests of one backend)
for f in relay/*.c; do
  [ "$f" = relay/backend.c ] && continue
  if grep -q '#include "relay/backends/' "$f"; then
    echo "layering: $f includes a backend's header"
    bad=1
  fi
done
[ $bad -eq 0 ] && echo "layering: fs -> relay -> relay/backends, cache beside: ok"
exit $bad
