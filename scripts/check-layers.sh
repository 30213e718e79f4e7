#!/usr/bin/env bash
# Checks the #include lines of src/ against the layers (README "Layout"): a file may include its own
# layer and any layer below it, never one above or beside it. Prints every upward or sideways
# include and exits 1 when there is one.
set -euo pipefail
cd "$(dirname "$0")/.."

rank() {
  case $1 in
    cli) echo 100 ;;
    api) echo 90 ;;
    voice | capture | chat) echo 80 ;;
    talk) echo 70 ;;
    avatar) echo 60 ;;
    brain) echo 50 ;;
    auth) echo 40 ;;
    jobs | providers | ingest) echo 30 ;;
    audio) echo 25 ;; # DSP only (core below it): providers resample what remote engines send
    store | net) echo 20 ;;
    core) echo 10 ;;
    *) echo "" ;;
  esac
}

bad=0
for dir in src/*/; do
  layer=$(basename "$dir")
  mine=$(rank "$layer")
  if [ -z "$mine" ]; then
    echo "check-layers: src/$layer is not a known layer (add it to scripts/check-layers.sh)" >&2
    bad=1
    continue
  fi
  while IFS=: read -r file line inc; do
    target=${inc#*\"}
    target=${target%%/*}
    [ "$target" = "$layer" ] && continue
    theirs=$(rank "$target")
    if [ -z "$theirs" ] || [ "$theirs" -ge "$mine" ]; then
      echo "$file:$line: $layer includes $target (${inc#\#include })"
      bad=1
    fi
  done < <(grep -Hn '^#include "[a-z_]*/' "$dir"*.[ch] || true)
done
if [ "$bad" = 0 ]; then
  echo "check-layers: no upward or sideways include in src/"
fi
exit "$bad"
