#!/usr/bin/env bash
# Installs the Debian 12 packages Doppel builds, runs and tests with; idempotent.
# Usage: scripts/install-deps.sh [build|test|bench]   (build: compile + run; test: also the test
# servers/tools; bench: also the peers bench/peers.sh runs beside Doppel)
set -euo pipefail
mode=${1:-build}

build_pkgs=(
  build-essential pkg-config
  libuv1-dev libmicrohttpd-dev libwslay-dev libjansson-dev
  libsqlite3-dev libpq-dev libhiredis-dev libsodium-dev libcurl4-openssl-dev libmagic-dev
  zlib1g-dev # .charx (zip) reading and writing in src/avatar/card.c
  poppler-utils unzip # document text extraction (subprocesses)
  imagemagick         # image thumbnails (subprocess)
  wordnet-base        # lemmas and synonyms of memory search (src/core/lexicon.c reads /usr/share/wordnet)
  libstemmer-dev      # Snowball stemmers for memories not in English (src/core/stem.c)
  libpocketsphinx-dev pocketsphinx-en-us # offline speech recognition (src/providers/stt_pocketsphinx.c)
  flite1-dev          # offline speech synthesis (src/providers/tts_flite.c)
  libspeexdsp-dev     # resampling (src/audio/resample.c)
  libopus-dev libogg-dev libopusfile-dev # Ogg/Opus downloads and uploads (src/audio/ogg_opus.c), the voice WebSocket's Opus packets (src/audio/opus_packet.c)
  ffmpeg              # audio/video containers decoded to PCM (subprocess)
)
test_pkgs=(
  clang clang-format libclang-rt-14-dev postgresql redis-server prometheus wrk nodejs npm curl zip
  gdb # backtraces of a test server that hangs (tests/api/lib/server.mjs)
  sqlite3 # tests that reach into a SQLite database (tests/api/dialogue.test.mjs)
  chromium # the browser UI's end-to-end tests (tests/e2e, driven by playwright-core); stays beside firefox-esr
  firefox-esr # the same UI in Firefox (tests/e2e/firefox.test.mjs, driven by puppeteer-core over WebDriver BiDi)
  flite espeak-ng # synthetic voices saying known sentences for the speech tests (subprocesses)
)

bench_pkgs=(
  # the FastAPI peer of ../shared/peers (bench/peers.sh); the Express peer comes from npm
  python3-fastapi python3-uvicorn python3-jwt python3-bcrypt python3-uvloop python3-httptools
)

pkgs=("${build_pkgs[@]}")
[ "$mode" = test ] || [ "$mode" = bench ] && pkgs+=("${test_pkgs[@]}")
[ "$mode" = bench ] && pkgs+=("${bench_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# nodejs/npm may come from outside Debian on some machines: accept any working node + npm.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
filtered=(); for p in "${missing[@]}"; do [ -n "$p" ] && filtered+=("$p"); done
if [ ${#filtered[@]} -eq 0 ]; then exit 0; fi

sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "install-deps: installing ${filtered[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${filtered[@]}" >/dev/null
