#!/usr/bin/env bash
# Exact vector scan speed (bench/vectors.c) against a plain loop, built with the release flags.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s build/release/src/brain/vectors.o
mkdir -p build/bench
# shellcheck disable=SC2046
cc -std=c11 -D_GNU_SOURCE -O2 -g -Isrc -o build/bench/vectors bench/vectors.c build/release/src/brain/vectors.o \
    build/release/src/brain/avatar_slots.o $(find build/release/src -name '*.o' ! -name main.o ! -path '*/brain/vectors.o' ! -path '*/brain/avatar_slots.o') \
    build/release/gen/migrations_data.o $(pkg-config --libs libuv libmicrohttpd jansson sqlite3 libpq hiredis libsodium libcurl zlib) -lwslay -lmagic -lpthread -lm
build/bench/vectors
