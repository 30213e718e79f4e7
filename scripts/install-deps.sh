#!/usr/bin/env bash
# Installs the Debian 12 packages Doppel builds, runs and tests with; idempotent.
# Usage: scripts/install-deps.sh [build|test]   (build: compile + run; test: also the test servers/tools)
set -euo pipefail
mode=${1:-build}

build_pkgs=(
  build-essential pkg-config
  libuv1-dev libmicrohttpd-dev libwslay-dev libjansson-dev
  libsqlite3-dev libpq-dev libhiredis-dev libsodium-dev libcurl4-openssl-dev libmagic-dev
  zlib1g-dev # .charx (zip) reading and writing in src/avatar/card.c
  poppler-utils unzip # document text extraction (subprocesses)
  imagemagick         # image thumbnails (subprocess)
  libopus-dev         # Opus packets of the voice WebSocket (src/audio/opus_packet.c)
)
test_pkgs=(
  clang libclang-rt-14-dev postgresql redis-server prometheus wrk nodejs npm curl zip
  gdb # backtraces of a test server that hangs (tests/api/lib/server.mjs)
  sqlite3 # tests that reach into a SQLite database (tests/api/dialogue.test.mjs)
  chromium # the browser UI's end-to-end tests (tests/e2e, driven by playwright-core)
)

pkgs=("${build_pkgs[@]}")
[ "$mode" = test ] && pkgs+=("${test_pkgs[@]}")

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
