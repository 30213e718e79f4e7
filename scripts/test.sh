#!/usr/bin/env bash
# The whole test suite, as CI runs it (`make test`): installs what is missing (Debian 12), builds the
# release and ASan/UBSan binaries, runs the C unit tests, replays the fuzz corpora, and runs the
# black-box API suite on SQLite and on PostgreSQL + Redis (ASan/UBSan binary), and the browser suite
# in Chromium and Firefox (release binary). Fail-fast; the
# throwaway PostgreSQL and Redis are stopped on every exit.
#
# Environment: JOBS (make -j, default 2), FUZZ_SECONDS (per fuzz target, default 3),
#              KEEP_LOGS=1 keeps build/test-logs even when everything passes.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
JOBS=${JOBS:-2}
export FUZZ_SECONDS=${FUZZ_SECONDS:-3}
LOGS=$ROOT/build/test-logs
T0=$(date +%s)

sections=()
times=()
current=""
section_t0=0

if [ -t 1 ]; then B=$'\033[1m' RED=$'\033[1;31m' GREEN=$'\033[1;32m' N=$'\033[0m'; else B="" RED="" GREEN="" N=""; fi

section() {
  end_section
  current=$1
  section_t0=$(date +%s)
  printf '\n%s==== %s ====%s\n' "$B" "$current" "$N"
}
end_section() {
  if [ -n "$current" ]; then
    sections+=("$current")
    times+=($(($(date +%s) - section_t0)))
    current=""
  fi
}
summary() {
  local i
  echo
  echo "==== time per section ===="
  for i in "${!sections[@]}"; do
    printf '  %4ss  %s\n' "${times[$i]}" "${sections[$i]}"
  done
  printf '  %4ss  total\n' "$(($(date +%s) - T0))"
}

# Long steps run in their own process group (setsid), in the background, so that a cancel (INT/TERM)
# is handled at once and stops the whole step: node, its test processes and their doppel servers.
child=""
lanes=() # the API suite's lanes while they run (run_api_lanes)
run() {
  setsid "$@" &
  child=$!
  local rc=0
  wait "$child" || rc=$?
  child=""
  return "$rc"
}

# Steps that wait more than they compute run side by side, one lane each (2 cores): each lane's
# output goes to a log printed when the lane ends, and the first lane to fail stops the others.
run_lanes() { # run_lanes NAME 'COMMAND' [NAME 'COMMAND' …]
  local pid rc failed="" name
  declare -A name_of=()
  lanes=()
  while [ $# -gt 0 ]; do
    setsid bash -c "$2" >"$LOGS/lane-$1.out" 2>&1 &
    lanes+=($!)
    name_of[$!]=$1
    shift 2
  done
  while [ ${#lanes[@]} -gt 0 ]; do
    rc=0
    wait -n -p pid "${lanes[@]}" || rc=$?
    name=${name_of[$pid]}
    local keep=() l
    for l in "${lanes[@]}"; do [ "$l" = "$pid" ] || keep+=("$l"); done
    lanes=("${keep[@]}")
    printf '\n%s---- %s: exit %s ----%s\n' "$B" "$name" "$rc" "$N"
    cat "$LOGS/lane-$name.out"
    if [ "$rc" -ne 0 ]; then
      failed=$name
      break
    fi
  done
  if [ -n "$failed" ]; then
    printf '%sfailed: %s%s\n' "$RED" "$failed" "$N"
    return 1
  fi
}

SERVERS_TMP=""
on_exit() {
  local rc=$?
  set +e
  local failed_in=$current
  local p
  for p in $child "${lanes[@]}"; do
    [ -n "$p" ] || continue
    kill -TERM -- "-$p" 2>/dev/null
    sleep 1
    kill -KILL -- "-$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  end_section
  if [ -n "$SERVERS_TMP" ]; then
    bash scripts/test-servers.sh stop "$SERVERS_TMP/servers"
    rm -rf "$SERVERS_TMP"
  fi
  summary
  if [ "$rc" -ne 0 ]; then
    printf '\n%sFAILED%s in: %s (exit %s)\n' "$RED" "$N" "${failed_in:-?}" "$rc"
    [ -d "$LOGS" ] && echo "logs (server stderr per start, fuzz output): $LOGS"
  else
    printf '\n%sALL PASSED%s\n' "$GREEN" "$N"
    [ "${KEEP_LOGS:-0}" = 1 ] || rm -rf "$LOGS"
  fi
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

rm -rf "$LOGS"
mkdir -p "$LOGS"

# ---------------------------------------------------------------------------------------------
section "dependencies (scripts/install-deps.sh test)"
bash scripts/install-deps.sh test
for tool in cc clang node npm promtool psql chromium; do
  command -v "$tool" >/dev/null || {
    echo "test.sh: $tool is missing after install-deps" >&2
    exit 1
  }
done
echo "node $(node --version), npm $(npm --version), $(clang --version | head -n 1), $(promtool --version 2>&1 | head -n 1)"

section "layers (scripts/check-layers.sh: no upward include)"
bash scripts/check-layers.sh

section "format (make format-check: clang-format, .clang-format)"
make -s format-check

section "build (make -j$JOBS: ./doppel and unit tests)"
run make -j"$JOBS" all unit

section "build ASan/UBSan (make asan)"
run make -j"$JOBS" asan

section "API and browser suites' dependencies (npm ci)"
run npm ci --prefix tests/api --no-audit --no-fund --loglevel=error
run npm ci --prefix tests/e2e --no-audit --no-fund --loglevel=error

section "test servers (PostgreSQL + Redis on loopback)"
SERVERS_TMP=$(mktemp -d /tmp/doppel-test.XXXXXX)
chmod 755 "$SERVERS_TMP"
bash scripts/test-servers.sh start "$SERVERS_TMP/servers"
set -a
# shellcheck disable=SC1091
. "$SERVERS_TMP/servers/env"
set +a
have_pg=1
if [ -z "${DOPPEL_TEST_PG_URL:-}" ] || [ -z "${DOPPEL_TEST_REDIS_URL:-}" ]; then
  have_pg=0
  echo "test.sh: ######## PostgreSQL or Redis is missing: the PostgreSQL + Redis API runs are SKIPPED ########" >&2
fi

export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0:check_initialization_order=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
if [ -f tests/lsan.supp ]; then
  export LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp:print_suppressions=0"
fi

api_files=(tests/api/*.test.mjs)
node_flags=(--test --test-reporter=spec)
# One test file at a time per backend: a file's servers have the machine to themselves but for the
# other backend's lane.
if node --help 2>/dev/null | grep -- '--test-concurrency' >/dev/null; then
  node_flags+=(--test-concurrency=1)
fi

# The browser UI once (release binary, SQLite): Debian's chromium (playwright-core) and firefox-esr
# (puppeteer-core, firefox.test.mjs), each in a lane beside the C unit tests — the lightest load of
# the run (browsers beside the API suite's sanitizer lanes timed out loading the app's modules).
# The voice suite (Chromium's longest file) runs after the Firefox one, in its lane: the two lanes
# then end within a minute of each other instead of Chromium's alone setting the section's time.
e2e_chromium=()
e2e_after_firefox=(tests/e2e/voice.test.mjs)
for f in tests/e2e/*.test.mjs; do
  case "$f" in tests/e2e/firefox.test.mjs | tests/e2e/voice.test.mjs) ;; *) e2e_chromium+=("$f") ;; esac
done
e2e_env=(env DOPPEL_BIN=build/release/doppel DOPPEL_API_BACKEND=sqlite DOPPEL_TEST_TIME_SCALE=1)

section "unit tests (ASan/UBSan) beside the browser suites (release binary)"
# The unit tests run with the sanitizer build only: the same tests, checked more (both builds side by
# side cost a core for a minute and a half). Its Redis tests use database 9 of the test Redis.
asan_redis=""
[ -n "${DOPPEL_TEST_REDIS_URL:-}" ] && asan_redis="${DOPPEL_TEST_REDIS_URL%/}/9"
run_lanes unit-asan "$(printf '%q ' env DOPPEL_TEST_REDIS_URL="$asan_redis" build/asan/unit_tests)" \
  e2e-chromium "$(printf '%q ' "${e2e_env[@]}" node "${node_flags[@]}" "${e2e_chromium[@]}")" \
  e2e-firefox "$(printf '%q ' "${e2e_env[@]}" node "${node_flags[@]}" tests/e2e/firefox.test.mjs "${e2e_after_firefox[@]}")"

# ---------------------------------------------------------------------------------------------
section "fuzz corpora replay (${FUZZ_SECONDS}s per target)"
shopt -s nullglob
fuzz_srcs=(fuzz/fuzz_*.c)
shopt -u nullglob
if [ ${#fuzz_srcs[@]} -eq 0 ]; then
  echo "no fuzz targets (fuzz/fuzz_*.c) yet: skipped"
else
  run make -j"$JOBS" fuzz
  # Two lanes (one target at a time is one core), every other target each.
  names=()
  for src in "${fuzz_srcs[@]}"; do names+=("$(basename "$src" .c)"); done
  halves=("" "")
  for i in "${!names[@]}"; do halves[i % 2]+="${names[i]} "; done
  run_lanes fuzz-0 "bash scripts/fuzz-replay.sh $LOGS/fuzz $SERVERS_TMP ${halves[0]}" \
    fuzz-1 "bash scripts/fuzz-replay.sh $LOGS/fuzz $SERVERS_TMP ${halves[1]}"
fi

# ---------------------------------------------------------------------------------------------
# The order the lanes take the API suite's files in, one line "BACKEND FILE" each: the ones that
# stream real-time audio or large bodies first (they take longest, and a long file taken last would
# leave the other lanes idle), then the rest, largest first; each file on every backend, one after
# the other.
api_queue() { # api_queue FILE BACKEND…: writes the queue
  local out=$1 f b
  shift
  for f in "${api_files[@]}"; do
    for b in "$@"; do
      case ${f##*/} in speech* | voice* | capture* | media*) echo "1 $(stat -c %s "$f") $b $f" ;; *) echo "0 $(stat -c %s "$f") $b $f" ;; esac
    done
  done | sort -s -k1,1nr -k2,2nr | cut -d' ' -f3- >"$out"
}

# The API suite on SQLite and on PostgreSQL + Redis at the same time: LANES lanes per backend take
# (backend, file) pairs from one queue, so that the lanes end together whichever backend is slower
# (most of a file's time is waiting — real-time audio, timeouts, restarts —, so lanes side by side
# fit on 2 cores). Each lane has its own base database of the test Redis (16 apart: a file's fresh
# databases count from it; scripts/test-servers.sh makes 128), so lanes never flush each other's keys.
run_api_lanes() { # run_api_lanes LABEL BINARY LANES [NAME 'COMMAND' …: more lanes beside them]
  local label=$1 bin=$2 per_backend=$3 build specs=() k queue beside="" i
  shift 3
  build=$(basename "$(dirname "$bin")")
  for ((i = 1; i <= $#; i += 2)); do beside+="${beside:+, }${!i}"; done
  section "API suite: $label, SQLite and PostgreSQL + Redis, $per_backend lane(s) each${beside:+, beside $beside}"
  local backends=(sqlite)
  if [ "$have_pg" = 1 ]; then backends+=(postgres); else echo "SKIPPED on PostgreSQL + Redis (see above)"; fi
  queue=$LOGS/queue-$build
  api_queue "$queue" "${backends[@]}"
  for ((k = 0; k < per_backend * ${#backends[@]}; k++)); do
    specs+=("api-$build-$k" "$(printf '%q ' env DOPPEL_BIN="$bin" \
      DOPPEL_TEST_REDIS_URL="${DOPPEL_TEST_REDIS_URL:+${DOPPEL_TEST_REDIS_URL%/}/$((k * 16))}" \
      DOPPEL_API_LOG_DIR="$LOGS/api-$build-$k" bash scripts/api-lane.sh "$queue" "${node_flags[@]}")")
  done
  run_lanes "${specs[@]}" "$@"
}

# The API suite runs once per backend with the sanitizer build, which checks more than the release
# build at no loss of coverage (the same code, UBSan on top; the release binary runs the browser
# suite and the benchmarks): running it with both builds took CI ten minutes longer. API_LANES=N
# adds a pass with the release binary first (N lanes per backend).
if [ "${API_LANES:-0}" -gt 0 ]; then
  run_api_lanes "release binary" build/release/doppel "$API_LANES"
fi
# The sanitizer build runs a few times slower: the harness's waits stretch with it.
export DOPPEL_TEST_TIME_SCALE=3
run_api_lanes "ASan/UBSan binary" build/asan/doppel "${API_LANES_ASAN:-2}"
unset DOPPEL_TEST_TIME_SCALE
end_section
