#!/usr/bin/env bash
# Quality of memory search and of the recall brain (bench/recall/recall.mjs) against a fresh
# doppel on a free loopback port with a throwaway data directory. Prints figures only.
# Usage: bash bench/recall/run.sh [--backend sqlite|postgres] [--embed | --embed-url URL --embed-model M]
#                                 [--natural] [--verbose] [--locomo DIR]
#   --natural            the natural-question set of bench/recall/natural/ (bench/recall/natural.mjs)
#                        instead of bench/recall/questions.json
#   --locomo DIR         LoCoMo retrieval per category: DIR/drive.py against this server (turns
#                        inserted one at a time, in order), then DIR/baseline.py (FTS5 bm25) beside it;
#                        DIR is the evaluation set kept outside the repository (../shared/eval/locomo-dev)
#   --backend postgres   PostgreSQL + Redis from scripts/test-servers.sh (started and stopped here)
#   --embed              hybrid search: memory vectors from the deterministic test embedder of
#                        tests/embed-server/ (word hashing with a small synonym table — it shows
#                        the vector path at work, not what a real embedding model would score)
#   --embed-url URL --embed-model M
#                        hybrid search with a real OpenAI-compatible embedding provider, e.g. Ollama:
#                        --embed-url http://127.0.0.1:11434/v1 --embed-model nomic-embed-text
#                        (a key, if it needs one, in DOPPEL_EMBED_API_KEY)
set -euo pipefail
cd "$(dirname "$0")/../.."

backend=sqlite
embed=0
embed_url=
embed_model=
script=bench/recall/recall.mjs
pass=()
locomo=
while [ $# -gt 0 ]; do
    case $1 in
    --backend) backend=${2:?--backend needs sqlite or postgres}; shift 2 ;;
    --backend=*) backend=${1#*=}; shift ;;
    --embed) embed=1; shift ;;
    --embed-url) embed_url=${2:?--embed-url needs a URL}; shift 2 ;;
    --embed-model) embed_model=${2:?--embed-model needs a model name}; shift 2 ;;
    --natural) script=bench/recall/natural.mjs; shift ;;
    --locomo) locomo=${2:?--locomo needs the directory of drive.py}; shift 2 ;;
    *) pass+=("$1"); shift ;;
    esac
done
case $backend in sqlite | postgres) ;; *) echo "unknown backend: $backend" >&2; exit 2 ;; esac

[ -x ./doppel ] || make -j2 doppel >/dev/null

dir=$(mktemp -d /tmp/doppel-bench-recall.XXXXXX)
chmod 755 "$dir" # the postgres user creates its cluster inside
pid=
embed_pid=
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    if [ -n "$embed_pid" ]; then kill "$embed_pid" 2>/dev/null || true; wait "$embed_pid" 2>/dev/null || true; fi
    if [ "$backend" = postgres ]; then bash scripts/test-servers.sh stop "$dir/s" >/dev/null 2>&1 || true; fi
    rm -rf "$dir"
}
trap cleanup EXIT

args=(serve --listen 127.0.0.1:0 --data-dir "$dir/data" --log-level warn
    --argon2-memory-kib 8192 --argon2-ops 1 --api-rate 1000000 --search-rate 0 --auth-rate 100000
    --job-workers 2 --access-ttl 86400)
if [ "$backend" = postgres ]; then
    bash scripts/test-servers.sh start "$dir/s" >/dev/null
    set -a; . "$dir/s/env"; set +a
    args+=(--database-url "$DOPPEL_TEST_PG_URL" --redis-url "$DOPPEL_TEST_REDIS_URL")
fi

if [ "$embed" = 1 ]; then
    node tests/embed-server/server.mjs --dims 256 >"$dir/embed.out" &
    embed_pid=$!
    for _ in $(seq 1 100); do [ -s "$dir/embed.out" ] && break; sleep 0.1; done
    args+=(--embed-provider openai --embed-url "$(head -n1 "$dir/embed.out")" --embed-model test-hash
        --search-vector-min-similarity 15)
    echo "hybrid search: vectors from tests/embed-server (deterministic test embedder)"
elif [ -n "$embed_url" ]; then
    [ -n "$embed_model" ] || { echo "--embed-url needs --embed-model" >&2; exit 2; }
    args+=(--embed-provider openai --embed-url "$embed_url" --embed-model "$embed_model")
    echo "hybrid search: vectors from $embed_url ($embed_model)"
fi

./doppel "${args[@]}" >"$dir/stdout" 2>"$dir/stderr" &
pid=$!
url=
for _ in $(seq 1 300); do
    url=$(grep -o 'open http://127\.0\.0\.1:[0-9]*' "$dir/stdout" | head -n1 | cut -d' ' -f2) || true
    [ -n "$url" ] && break
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "doppel exited before it was ready:" >&2
        cat "$dir/stderr" >&2
        exit 1
    fi
    sleep 0.1
done
[ -n "$url" ] || { echo "doppel did not print its address in 30 s" >&2; cat "$dir/stderr" >&2; exit 1; }

if [ -n "$locomo" ]; then
    python3 "$locomo/drive.py" --base-url "$url" --email locomo@example.org --password 'a long bench password' \
        --workers 1 --settle 1 ${pass[@]+"${pass[@]}"}
    echo; echo "anchor:"; python3 "$locomo/baseline.py"
    exit 0
fi
node "$script" --url "$url" --backend "$backend" ${pass[@]+"${pass[@]}"}
