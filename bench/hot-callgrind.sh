#!/usr/bin/env bash
# Instructions and allocator calls per request of the hot signed-in reads, under callgrind: figures
# that a loaded machine does not change (wall-clock ones it does). Doppel runs under valgrind's
# callgrind on SQLite; a user with 10 avatars warms each route, the counters are zeroed, then N
# requests of each route are made one at a time over keep-alive and the counters dumped.
# Prints, per route: instructions (Ir) per request and malloc/calloc/realloc/free calls per request;
# the last route (a page after a cursor, never cached) is the cold fill: the database and the JSON.
#
#   bash bench/hot-callgrind.sh [BINARY ...]   (default ./doppel; several: a before/after table)
# Environment: N (requests a route, default 300), CG_KEEP (a folder: keep each route's dump there),
# HOT_BACKEND=postgres (a throwaway PostgreSQL + Redis instead of SQLite: the table then also
# gives the Redis commands a request — EVAL, MGET, GET, INCRBY, SET: a pipeline of two is one round trip — the heartbeats of near copies left out).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind missing: apt-get install -y valgrind" >&2; exit 2; }
BINS=("$@"); [ ${#BINS[@]} -gt 0 ] || { make -j2 doppel >/dev/null; BINS=(./doppel); }
N=${N:-300}
tmp=$(mktemp -d /tmp/doppel-hotcg.XXXXXX)
chmod 755 "$tmp" # the postgres user creates its cluster inside
pid=""
backend_args=()
redis_port=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    [ -n "$redis_port" ] && bash scripts/test-servers.sh stop "$tmp/srv" >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT
if [ "${HOT_BACKEND:-sqlite}" = postgres ]; then
    bash scripts/test-servers.sh start "$tmp/srv" >/dev/null
    # shellcheck disable=SC1091
    . "$tmp/srv/env"
    redis_port=$(cat "$tmp/srv/redis.port")
    backend_args=(--database-url "$DOPPEL_TEST_PG_URL" --redis-url "$DOPPEL_TEST_REDIS_URL")
fi

for bin in "${BINS[@]}"; do
    port=$((20000 + RANDOM % 20000))
    rm -rf "$tmp/data" && mkdir -p "$tmp/data"
    valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.%p" "$bin" serve --listen "127.0.0.1:$port" \
        --data-dir "$tmp/data" --log-level warn --argon2-memory-kib 8192 --argon2-ops 1 --api-rate 1000000 \
        --auth-rate 100000 "${backend_args[@]}" >"$tmp/log" 2>&1 &
    pid=$!
    for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.2; done
    TMPDIR_CG=$tmp REDIS_PORT=$redis_port node - "$port" "$N" "$pid" "$bin" <<'EOF'
const http = require('http');
const { execFileSync } = require('child_process');
const fs = require('fs');
const [port, n, pid, bin] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4], process.argv[5]];
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const call = (method, path, body, token) => new Promise((resolve, reject) => {
  const data = body ? JSON.stringify(body) : null;
  const req = http.request({ host: '127.0.0.1', port, method, path, agent,
    headers: { ...(data ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) } }, (res) => {
    let s = ''; res.on('data', (d) => (s += d)); res.on('end', () => resolve({ status: res.statusCode, body: s }));
  });
  req.on('error', reject);
  if (data) req.write(data);
  req.end();
});
// The counters of the dump callgrind_control makes: total Ir and calls of the allocator.
function dump(label) {
  const before = new Set(fs.readdirSync(process.env.TMPDIR_CG));
  execFileSync('callgrind_control', ['-d', pid], { stdio: 'ignore' });
  const file = fs.readdirSync(process.env.TMPDIR_CG).filter((f) => f.startsWith('cg.') && !before.has(f)).sort().pop();
  const text = fs.readFileSync(`${process.env.TMPDIR_CG}/${file}`, 'utf8');
  if (label && process.env.CG_KEEP) // for callgrind_annotate
    fs.writeFileSync(`${process.env.CG_KEEP}/${label.replace(/[^a-z]+/gi, '_')}.cg`, text);
  const names = {}; const calls = { malloc: 0, calloc: 0, realloc: 0, free: 0 };
  let total = 0, target = null;
  for (const line of text.split('\n')) {
    let m;
    if ((m = /^summary: (\d+)/.exec(line))) total = Number(m[1]);
    else if ((m = /^cfn=\((\d+)\)(?: (.*))?$/.exec(line))) { if (m[2]) names[m[1]] = m[2]; target = names[m[1]]; }
    else if ((m = /^calls=(\d+)/.exec(line)) && target in calls) { calls[target] += Number(m[1]); target = null; }
    else if ((m = /^fn=\((\d+)\) (.*)$/.exec(line))) names[m[1]] = m[2];
  }
  return { total, calls };
}
// Redis commands so far: top-level ones, without the heartbeats' (a ZADD, a GET and a SET in each
// heartbeat script): EVAL + MGET + GET + INCRBY + SET.
function redisTrips() {
  if (!process.env.REDIS_PORT) return 0;
  const text = execFileSync('redis-cli', ['-p', process.env.REDIS_PORT, 'info', 'commandstats'], { encoding: 'utf8' });
  const calls = (c) => Number((new RegExp(`cmdstat_${c}:calls=(\\d+)`).exec(text) || [0, 0])[1]);
  return calls('eval') + calls('mget') + calls('get') + calls('incrby') + calls('set') - 3 * calls('zadd');
}
(async () => {
  const s = await call('POST', '/api/v1/auth/signup', { email: `cg-${Date.now()}@example.com`, password: 'correct horse battery', display_name: 'Cg' });
  const token = JSON.parse(s.body).access_token;
  let first;
  for (let i = 0; i < 10; i++) {
    const a = await call('POST', '/api/v1/avatars', { name: `Avatar ${i}`, kind: 'character', description: 'A description of some length, as a real one would have: where they lived, what they did.' }, token);
    first ||= JSON.parse(a.body).id;
  }
  const routes = [['GET /health', '/health', null], ['GET /api/v1/avatars', '/api/v1/avatars', token],
    ['GET /api/v1/avatars/{id}', `/api/v1/avatars/${first}`, token], ['GET /api/v1/auth/me', '/api/v1/auth/me', token],
    ['GET /api/v1/avatars/{id}/memories', `/api/v1/avatars/${first}/memories`, token],
    // A page after a cursor is never cached: every request is a fill (database + JSON), as a cold read.
    ['fill: GET /api/v1/avatars?cursor=0', '/api/v1/avatars?cursor=0', token]];
  for (const [label, path, tok] of routes) {
    for (let i = 0; i < 20; i++) { const r = await call('GET', path, null, tok); if (r.status !== 200) throw new Error(`${label}: ${r.status} ${r.body}`); }
    dump(); // a dump zeroes the counters: the next one holds the n requests alone
    const trips0 = redisTrips();
    for (let i = 0; i < n; i++) await call('GET', path, null, tok);
    const trips = (redisTrips() - trips0) / n;
    const b = dump(label);
    const per = (k) => (b.calls[k] / n).toFixed(1);
    const redis = process.env.REDIS_PORT ? ` ${trips.toFixed(2)} |` : '';
    console.log(`| ${bin} | ${label} | ${Math.round(b.total / n).toLocaleString('en')} | ${per('malloc')} | ${per('calloc')} | ${per('realloc')} | ${per('free')} |${redis}`);
  }
  agent.destroy();
})().catch((e) => { console.error(e); process.exit(1); });
EOF
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
    pid=""
done 2>&1 | {
    if [ -n "$redis_port" ]; then
        echo "PostgreSQL + Redis; Redis commands a request (EVAL, MGET, GET, INCRBY, SET; the authentication pipeline EVAL + MGET is one round trip)"
        echo '| binary | route (warm, signed in) | Ir/request | malloc | calloc | realloc | free | Redis commands |'
        echo '|---|---|---|---|---|---|---|---|'
    else
        echo '| binary | route (warm, signed in) | Ir/request | malloc | calloc | realloc | free |'
        echo '|---|---|---|---|---|---|---|'
    fi
    cat
}
