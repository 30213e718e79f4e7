#!/usr/bin/env bash
# Accounts benchmark: logins/s with the default argon2id cost and with a cheap one (the difference
# is the hash), and authenticated GET /api/v1/auth/me against unauthenticated /health in the same
# run (the token check's cost as a ratio). Prints figures; never passes or fails on time.
#
# Environment: BENCH_SECONDS (default 10), BENCH_CONNECTIONS (64), BENCH_SERVER_CPU (0),
# BENCH_WRK_CPU (1).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${BENCH_SECONDS:-10}
conns=${BENCH_CONNECTIONS:-64}
srv_cpu=${BENCH_SERVER_CPU:-0}
wrk_cpu=${BENCH_WRK_CPU:-1}
log() { printf '[bench] %s\n' "$*" >&2; }

make -j2 doppel >/dev/null
command -v wrk >/dev/null || apt-get install -y --no-install-recommends wrk >&2
[ "$(nproc)" -lt 2 ] && wrk_cpu=$srv_cpu

tmp=$(mktemp -d /tmp/doppel-bench-auth.XXXXXX)
cp ./doppel "$tmp/doppel"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

start() { # start NAME ARGS… → sets pid and port
    local name=$1; shift
    rm -rf "$tmp/$name"
    taskset -c "$srv_cpu" "$tmp/doppel" serve --listen 127.0.0.1:0 --data-dir "$tmp/$name" --log-level warn \
        --auth-rate 100000 --api-rate 1000000 "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
    pid=$!
    for _ in $(seq 1 100); do
        port=$(sed -n 's|.*open http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$tmp/$name.out")
        [ -n "$port" ] && return 0
        sleep 0.1
    done
    log "server did not start"; cat "$tmp/$name.err" >&2; exit 1
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }

# wrk … → "req/s p50 p99" (latencies in ms)
measure() {
    taskset -c "$wrk_cpu" wrk -t1 -c"$1" -d"${secs}s" --latency "${@:2}" | awk '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        /Requests\/sec/ { rps = $2 } / 50%/ { p50 = ms($2) } / 99%/ { p99 = ms($2) }
        END { printf "%.0f %.2f %.2f\n", rps, p50, p99 }'
}

signup() {
    curl -s -X POST "http://127.0.0.1:$port/api/v1/auth/signup" -H 'Content-Type: application/json' \
        -d '{"email":"bench@example.org","password":"a long benchmark password","display_name":"Bench"}'
}

cat >"$tmp/login.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"bench@example.org","password":"a long benchmark password"}'
LUA

printf '\n%-44s %10s %9s %9s\n' "target" "req/s" "p50 ms" "p99 ms"
for cost in "default:65536:2" "cheap:8192:1"; do
    IFS=: read -r label mem ops <<<"$cost"
    start "login-$label" --argon2-memory-kib "$mem" --argon2-ops "$ops"
    signup >/dev/null
    read -r rps p50 p99 < <(measure 4 -s "$tmp/login.lua" "http://127.0.0.1:$port/api/v1/auth/login")
    printf '%-44s %10s %9s %9s\n' "POST /auth/login, argon2id ${mem} KiB x${ops}" "$rps" "$p50" "$p99"
    stop
done

start me --argon2-memory-kib 8192 --argon2-ops 1
token=$(signup | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
curl -s -o /dev/null "http://127.0.0.1:$port/api/v1/auth/me" -H "Authorization: Bearer $token"
read -r h_rps h50 h99 < <(measure "$conns" "http://127.0.0.1:$port/health")
read -r m_rps m50 m99 < <(measure "$conns" -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/auth/me")
printf '%-44s %10s %9s %9s\n' "GET /health (no auth)" "$h_rps" "$h50" "$h99"
printf '%-44s %10s %9s %9s\n' "GET /auth/me (bearer JWT, in-process cache)" "$m_rps" "$m50" "$m99"
awk -v a="$m_rps" -v b="$h_rps" 'BEGIN { printf "authenticated / unauthenticated: %.0f%% (target >= 80%%)\n", 100 * a / b }'
stop
