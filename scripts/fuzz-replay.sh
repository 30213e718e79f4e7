#!/usr/bin/env bash
# Replays the committed corpora of the given fuzz targets (build/fuzz/NAME, built by `make fuzz`)
# and fuzzes each for FUZZ_SECONDS more; one line per target, the log's tail and artifacts on a
# failure. New inputs go to a scratch directory: the committed corpus is only read.
#
# Usage: scripts/fuzz-replay.sh LOG_DIR SCRATCH_DIR NAME…   (FUZZ_SECONDS, default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
logs=$1 scratch_root=$2
shift 2
mkdir -p "$logs"
for name in "$@"; do
  bin=build/fuzz/$name
  [ -x "$bin" ] || {
    echo "fuzz-replay: $bin was not built" >&2
    exit 1
  }
  scratch=$scratch_root/fuzz-$name
  mkdir -p "$scratch"
  corpus=()
  [ -d "fuzz/corpus/$name" ] && corpus=("fuzz/corpus/$name")
  n=0
  [ ${#corpus[@]} -gt 0 ] && n=$(find "${corpus[0]}" -type f | wc -l)
  log=$logs/$name.log
  mkdir -p "$scratch_root/tmp-$name" # a target's own files (fuzz_index_file's database), not its corpus
  if TMPDIR=$scratch_root/tmp-$name "$bin" -max_total_time="${FUZZ_SECONDS:-3}" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$logs/$name-" "$scratch" "${corpus[@]}" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "  ok   $name ($n corpus files, ${runs:-?} runs)"
  else
    echo "  FAIL $name — last lines of $log:"
    tail -n 40 "$log"
    ls "$logs/$name-"* 2>/dev/null | sed 's/^/  artifact: /' || true
    exit 1
  fi
done
