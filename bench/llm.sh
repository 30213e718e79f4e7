#!/usr/bin/env bash
# Runs bench/llm.mjs on SQLite and on a throwaway PostgreSQL + Redis (prints figures only).
set -euo pipefail
cd "$(dirname "$0")/.."
make -j2 doppel >/dev/null
node bench/llm.mjs
if [ "${BENCH_PG:-1}" = 1 ]; then
    dir=$(mktemp -d /tmp/doppel-bench-llmpg.XXXXXX)
    chmod 755 "$dir" # the postgres user creates its cluster inside
    trap 'bash scripts/test-servers.sh stop "$dir/s" >/dev/null 2>&1; rm -rf "$dir"' EXIT
    bash scripts/test-servers.sh start "$dir/s" >/dev/null
    set -a; . "$dir/s/env"; set +a
    node bench/llm.mjs --database-url "$DOPPEL_TEST_PG_URL" --redis-url "$DOPPEL_TEST_REDIS_URL"
fi
