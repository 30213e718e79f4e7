#!/usr/bin/env bash
# Doppel beside the peers users would otherwise pick (../shared/peers: FastAPI + uvicorn, Express),
# in one run on this machine: GET /health and the signed-in GET /api/v1/avatars (10 avatars) with
# wrk -t1 -c64, each server pinned to CPU 1 and wrk to CPU 0, through the peers' own bench.sh (it
# signs up, creates the avatars and checks the list first). Doppel runs on SQLite and on a
# throwaway PostgreSQL + Redis. Rate limits are raised so that the figure is the route, not the
# 429s. Prints a table of req/s, p99 and the server's CPU share, and each server's CPU time per
# request (steadier than req/s when other work loads the machine), beside issue 14's targets
# (signed-in GET /api/v1/avatars ≥ 40,000 req/s with p99 < 5 ms on SQLite, ≥ 20,000 req/s on
# PostgreSQL + Redis, ≥ 18× FastAPI). Figures only, never pass/fail.
#
#   bash bench/peers.sh [doppel] [doppel-pg] [fastapi] [express]   (default: all four)
# On a fresh machine it installs what it needs first (scripts/install-deps.sh bench: wrk, the
# FastAPI peer's Debian packages, PostgreSQL and Redis); the Express peer runs `npm ci` itself.
# Environment: PEERS_DIR (default ../shared/peers), DURATION (10 s a figure), WAIT_QUIET (0 s:
# how long to wait for a quiet machine before each figure), BENCH_WORKERS (Doppel --workers).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
TARGETS=("$@"); [ ${#TARGETS[@]} -gt 0 ] || TARGETS=(doppel doppel-pg fastapi express)
peers_src=${PEERS_DIR:-$repo/../shared/peers}
[ -x "$peers_src/bench.sh" ] || { echo "no peers at $peers_src (set PEERS_DIR)" >&2; exit 2; }
if ! command -v wrk >/dev/null || ! /usr/bin/python3 -c 'import fastapi, uvicorn, jwt, bcrypt' 2>/dev/null; then
    bash scripts/install-deps.sh bench || { echo "cannot install the peers' packages (scripts/install-deps.sh bench)" >&2; exit 2; }
fi
make -j2 doppel >/dev/null

tmp=$(mktemp -d /tmp/doppel-peers.XXXXXX)
chmod 755 "$tmp" # the postgres user creates its cluster inside
cp -r "$peers_src" "$tmp/peers" # the peers' folder may be read-only; Express runs npm ci inside
cp ./doppel "$tmp/doppel"
results=$tmp/results.jsonl
pid=""
pg_started=0
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    [ "$pg_started" = 1 ] && bash scripts/test-servers.sh stop "$tmp/srv" >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_up() { for _ in $(seq 1 100); do curl -sf "$1/health" >/dev/null 2>&1 && return 0; sleep 0.2; done; return 1; }
port_of() { echo $((20000 + RANDOM % 20000)); }

# Redis and PostgreSQL run on the load generator's CPU 0 (every thread, and PostgreSQL's backends
# inherit it from the postmaster), so that CPU 1 holds the measured server alone: unpinned, they
# ran wherever the scheduler put them, on the server's core too.
pin_backing_servers() {
    local dir=$1 p pids=""
    [ -s "$dir/redis.pid" ] && pids="$(cat "$dir/redis.pid")"
    [ -s "$dir/pg/data/postmaster.pid" ] && pids="$pids $(head -n 1 "$dir/pg/data/postmaster.pid")"
    pids="$pids $(for p in $pids; do pgrep -P "$p"; done | tr '\n' ' ')"
    for p in $pids; do taskset -a -cp 0 "$p" >/dev/null 2>&1 || true; done
    echo "# pinned Redis and PostgreSQL [$(echo $pids)] to CPU 0 beside wrk; the server alone on CPU 1"
}

# Starts one target in the background (pinned to CPU 1); sets pid and url.
start_target() {
    local t=$1 port
    port=$(port_of)
    url=http://127.0.0.1:$port
    local doppel_args=(serve --listen "127.0.0.1:$port" --data-dir "$tmp/data-$t" --log-level warn
        --argon2-memory-kib 8192 --argon2-ops 1 --api-rate 1000000 --auth-rate 100000)
    [ -n "${BENCH_WORKERS:-}" ] && doppel_args+=(--workers "$BENCH_WORKERS")
    case "$t" in
    doppel)
        mkdir -p "$tmp/data-$t"
        taskset -c 1 "$tmp/doppel" "${doppel_args[@]}" >"$tmp/$t.log" 2>&1 &
        ;;
    doppel-pg)
        mkdir -p "$tmp/data-$t"
        bash scripts/test-servers.sh start "$tmp/srv" >/dev/null
        pg_started=1
        pin_backing_servers "$tmp/srv"
        # shellcheck disable=SC1091
        (set -a; . "$tmp/srv/env"; set +a
         exec taskset -c 1 "$tmp/doppel" "${doppel_args[@]}" --database-url "$DOPPEL_TEST_PG_URL" \
             --redis-url "$DOPPEL_TEST_REDIS_URL") >"$tmp/$t.log" 2>&1 &
        ;;
    fastapi)
        /usr/bin/python3 -c 'import fastapi, uvicorn, jwt, bcrypt' 2>/dev/null || {
            echo "# fastapi: skipped (apt-get install -y python3-fastapi python3-uvicorn python3-jwt python3-bcrypt python3-uvloop python3-httptools)"
            return 1
        }
        PORT=$port PEER_CPUS=1 "$tmp/peers/fastapi/run.sh" >"$tmp/$t.log" 2>&1 &
        ;;
    express)
        PORT=$port PEER_CPUS=1 "$tmp/peers/express/run.sh" >"$tmp/$t.log" 2>&1 &
        ;;
    *) echo "unknown target $t" >&2; return 1 ;;
    esac
    pid=$!
    wait_up "$url" || { echo "# $t did not come up:" >&2; tail -5 "$tmp/$t.log" >&2; return 1; }
}

for t in "${TARGETS[@]}"; do
    start_target "$t" || { pid=""; continue; }
    RESULTS=$results DURATION=${DURATION:-10} WAIT_QUIET=${WAIT_QUIET:-0} LOGIN_CONNS=1 \
        "$tmp/peers/bench.sh" "$url" --label "$t" --server-pid "$pid" | grep -E '^# |health|avatars' || true
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
    pid=""
done

# The table: req/s and p99 of both figures, the server's CPU share, and CPU time per request.
node - "$results" <<'EOF'
const fs = require('fs');
const rows = fs.existsSync(process.argv[2]) ? fs.readFileSync(process.argv[2], 'utf8').trim().split('\n').filter(Boolean).map(JSON.parse) : [];
const by = {};
for (const r of rows) if (r.figure === 'health' || r.figure === 'avatars') (by[r.label] ||= {})[r.figure] = r.result;
const us = (r) => r.server_cpu_pct * 1e4 / r.rps;
const fmt = (r) => r ? `${Math.round(r.rps).toLocaleString('en')} req/s, p99 ${r.p99_ms.toFixed(1)} ms, cpu ${r.server_cpu_pct}% (${us(r).toFixed(1)} µs/req)` : 'n/a';
// Issue 14's targets for the signed-in list, per server.
const targets = { doppel: { rps: 40000, p99: 5 }, 'doppel-pg': { rps: 20000 } };
const fast = by.fastapi && by.fastapi.avatars;
console.log('\n| server | GET /health | signed-in GET /api/v1/avatars | × FastAPI (avatars req/s; CPU µs/req) | target (avatars) |');
console.log('|---|---|---|---|---|');
for (const [label, f] of Object.entries(by)) {
  const x = fast && f.avatars ? `${(f.avatars.rps / fast.rps).toFixed(1)}×; ${(us(fast) / us(f.avatars)).toFixed(1)}×` : '';
  const t = targets[label];
  let verdict = '';
  if (t && f.avatars) {
    const ok = f.avatars.rps >= t.rps && (!t.p99 || f.avatars.p99_ms < t.p99);
    verdict = `≥ ${t.rps.toLocaleString('en')} req/s${t.p99 ? `, p99 < ${t.p99} ms` : ''}${t === targets.doppel ? ', ≥ 18× FastAPI' : ''}: ${ok ? 'met' : 'not met'}`;
  }
  console.log(`| ${label} | ${fmt(f.health)} | ${fmt(f.avatars)} | ${x} | ${verdict} |`);
}
console.log('\nµs/req = server CPU time per request (its CPU share over the run / req/s): what one core would serve is 1e6 / µs/req.');
console.log('Targets are for an idle machine: the "busy" figure of each line above says how loaded this one was.');
EOF
