#!/usr/bin/env bash
# One lane of the API suite: takes test files one at a time from a queue shared with the lanes beside
# it (a file of lines "BACKEND PATH"; the first line is taken under a lock) until the queue is empty,
# so that lanes end together however long each file takes. Stops at the first file that fails.
#
# Usage: scripts/api-lane.sh QUEUE NODE_ARGS…   (each runs as `DOPPEL_API_BACKEND=BACKEND node NODE_ARGS… PATH`)
set -euo pipefail
queue=$1
shift
take() {
  flock "$queue.lock" bash -c 'f=$(head -n 1 "$1"); [ -z "$f" ] || sed -i 1d "$1"; printf %s "$f"' _ "$queue"
}
while line=$(take) && [ -n "$line" ]; do
  echo "# $line"
  DOPPEL_API_BACKEND=${line%% *} node "$@" "${line#* }"
done
