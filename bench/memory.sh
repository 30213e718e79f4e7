#!/usr/bin/env bash
# Memory benchmark (bench/memory.mjs): search, list and recall-reply latency in one avatar grown to
# 1k, 10k and 100k memories, and the insert rate. Prints figures only.
# Usage: bench/memory.sh [--backend sqlite|postgres] [--sizes 1000,10000,100000] [--quick] [--keep]
#   --backend postgres runs against a throwaway PostgreSQL + Redis from scripts/test-servers.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
backend=sqlite
args=()
while [ $# -gt 0 ]; do
    case $1 in
        --backend) backend=${2:?--backend takes sqlite or postgres}; shift 2 ;;
        --sizes) args+=("$1" "${2:?--sizes takes a list, e.g. 1000,10000}"); shift 2 ;;
        --quick|--keep) args+=("$1"); shift ;;
        *) echo "usage: $0 [--backend sqlite|postgres] [--sizes N,N,…] [--quick] [--keep]" >&2; exit 2 ;;
    esac
done
make -j2 doppel >/dev/null
case $backend in
    sqlite) node bench/memory.mjs "${args[@]}" ;;
    postgres)
        dir=$(mktemp -d /tmp/doppel-bench-mempg.XXXXXX)
        chmod 755 "$dir" # the postgres user creates its cluster inside
        trap 'bash scripts/test-servers.sh stop "$dir/s" >/dev/null 2>&1; rm -rf "$dir"' EXIT
        bash scripts/test-servers.sh start "$dir/s" >/dev/null
        set -a; . "$dir/s/env"; set +a
        [ -n "${DOPPEL_TEST_PG_URL:-}" ] || { echo "no PostgreSQL server could be started" >&2; exit 1; }
        node bench/memory.mjs "${args[@]}" --database-url "$DOPPEL_TEST_PG_URL" --redis-url "${DOPPEL_TEST_REDIS_URL:-}"
        ;;
    *) echo "--backend takes sqlite or postgres" >&2; exit 2 ;;
esac
