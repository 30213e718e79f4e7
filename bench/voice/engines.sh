#!/usr/bin/env bash
# The speech engines' figures (bench/voice/engines.c): STT and TTS real-time factors beside a peer
# measured in the same run, and how well replies match a voice profile. About 30 s on 2 cores.
# `engines.sh match`: the voice match alone.
set -euo pipefail
cd "$(dirname "$0")/../.."
make -s -j2 doppel
mkdir -p build/bench
ps_cflags=$(pkg-config --cflags pocketsphinx | sed 's/-I/-isystem /g')
# shellcheck disable=SC2046,SC2086
cc -std=c11 -D_GNU_SOURCE -O2 -g -Isrc $ps_cflags $(pkg-config --cflags opus) -o build/bench/voice-engines \
    bench/voice/engines.c $(find build/release/src -name '*.o' ! -name main.o) build/release/gen/migrations_data.o \
    build/release/gen/docs_assets.o \
    $(pkg-config --libs libuv libmicrohttpd jansson sqlite3 libpq hiredis libsodium libcurl zlib speexdsp opus ogg opusfile pocketsphinx) \
    -lwslay -lmagic -lflite_cmu_us_slt -lflite_cmu_us_rms -lflite_cmu_us_awb -lflite_cmu_us_kal16 -lflite_usenglish \
    -lflite_cmulex -lflite -lstemmer -lpthread -lm
build/bench/voice-engines "$@"
