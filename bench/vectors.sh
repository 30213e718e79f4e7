#!/usr/bin/env bash
# Exact vector scan speed (bench/vectors.c) against a plain loop, and float16 / int8 storage against
# float32 (speed and recall@10), built with the release flags.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s doppel >/dev/null
mkdir -p build/bench
libs=$(make -s --no-print-directory -E 'print-bench-libs: ; @echo $(PKG_LIBS)' print-bench-libs)
# shellcheck disable=SC2046,SC2086
cc -std=c11 -D_GNU_SOURCE -O2 -g -Isrc -o build/bench/vectors bench/vectors.c \
    $(find build/release/src -name '*.o' ! -name main.o) build/release/gen/migrations_data.o \
    build/release/gen/docs_assets.o $libs
build/bench/vectors
