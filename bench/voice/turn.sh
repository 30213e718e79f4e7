#!/usr/bin/env bash
# Voice turn benchmark (bench/voice/turn.mjs): turn latency from the true end of speech to the first
# reply audio byte (p50/p95, beside a text turn and the VAD hangover), and the largest number of
# concurrent voice sessions that stays real time (every turn answered, nothing refused, turn p95
# under the single-session bar of 600 ms) beside the target 8, with each stage's waiting, running
# and CPU time. Prints figures only.
# Usage: bench/voice/turn.sh [--turns 20] [--sessions 1,4,8,12,16] [--no-match] [--server-args '--workers 4']
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v espeak-ng >/dev/null || { echo "espeak-ng is needed for the speech fixtures (scripts/install-deps.sh test)" >&2; exit 1; }
make -j2 doppel >/dev/null
[ -d tests/api/node_modules ] || npm ci --prefix tests/api >/dev/null
DOPPEL_BIN=${DOPPEL_BIN:-./doppel} node bench/voice/turn.mjs "$@"
