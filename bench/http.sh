#!/usr/bin/env bash
# HTTP benchmark: wrk on loopback against Doppel's /health and a database-backed JSON route, next to a libmicrohttpd ceiling.
#
# Prints req/s, p50 and p99 (median of BENCH_RUNS runs) and the share of the ceiling's req/s,
# for SQLite and for a throwaway PostgreSQL 15, with --workers 1 and 2 on the database route,
# plus Doppel's RSS idle and after load. The server is pinned to one core and wrk (one thread,
# 64 connections) to another. It prints figures and never passes or fails on time.
#
# Environment: BENCH_SECONDS (default 10) per run, BENCH_RUNS (default 3), BENCH_WARMUP (2 s),
# BENCH_CONNECTIONS (64), BENCH_SERVER_CPU (0), BENCH_WRK_CPU (1), BENCH_PG=0 to skip
# PostgreSQL, BENCH_WORKERS ("1 2": worker counts tried on the database route),
# BENCH_PERF=1 to sample the server with perf during a /health run.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
secs=${BENCH_SECONDS:-10}
runs=${BENCH_RUNS:-3}
warmup=${BENCH_WARMUP:-2}
conns=${BENCH_CONNECTIONS:-64}
srv_cpu=${BENCH_SERVER_CPU:-0}
wrk_cpu=${BENCH_WRK_CPU:-1}
workers_list=${BENCH_WORKERS:-1 2}

log() { printf '[bench] %s\n' "$*" >&2; }

# ---- prerequisites ----
if [ ! -x ./doppel ]; then
    log "building ./doppel"
    make -j2 doppel >&2
fi
if ! command -v wrk >/dev/null; then
    log "installing wrk"
    apt-get install -y --no-install-recommends wrk >&2 || { apt-get update >&2 && apt-get install -y --no-install-recommends wrk >&2; }
fi
for tool in taskset curl pkg-config; do
    command -v "$tool" >/dev/null || { log "missing $tool"; exit 1; }
done
mkdir -p build/bench
if [ ! -x build/bench/ceiling ] || [ bench/ceiling.c -nt build/bench/ceiling ]; then
    log "building build/bench/ceiling"
    # shellcheck disable=SC2046
    cc -std=c11 -O2 -Wall -Wextra -o build/bench/ceiling bench/ceiling.c $(pkg-config --cflags --libs libmicrohttpd)
fi
if [ "$(nproc)" -lt 2 ]; then
    log "only one core: server and wrk share it, figures are not comparable with STACK.md"
    wrk_cpu=$srv_cpu
fi

# ---- process bookkeeping ----
tmp=$(mktemp -d /tmp/doppel-bench.XXXXXX)
pids=()
pg_dir=""
pg_bin=""
cleanup() {
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${pids[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    if [ -n "$pg_dir" ] && [ -f "$pg_dir/data/postmaster.pid" ]; then
        runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    local port
    for _ in $(seq 1 50); do
        port=$((20000 + RANDOM % 30000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    return 1
}

# wait_http URL PID: waits up to 15 s for URL to answer 200 while PID lives.
wait_http() {
    for _ in $(seq 1 150); do
        kill -0 "$2" 2>/dev/null || return 1
        if curl -fsS -o /dev/null "$1" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

stop_pid() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    local keep=()
    for p in "${pids[@]}"; do
        [ "$p" = "$1" ] || keep+=("$p")
    done
    pids=("${keep[@]+"${keep[@]}"}")
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# ---- wrk ----
# to_ms "1.23ms" -> 1.23 ; "850.00us" -> 0.85 ; "1.20s" -> 1200
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000;
        printf "%.2f", n }'
}

# bench_url NAME URL: BENCH_RUNS runs of wrk; appends "NAME rps p50 p99 errors" (medians) to $tmp/results.
bench_url() {
    local name=$1 url=$2 i out rps p50 p99 errs
    # A wrong route would be measured as fast 404s: check the answer first.
    local code
    code=$(curl -s -o "$tmp/check.body" -w '%{http_code}' "$url" || true)
    if [ "$code" != 200 ]; then
        log "$name: $url answered $code ($(head -c 200 "$tmp/check.body" 2>/dev/null)); skipped"
        echo "$name - - - -" >>"$tmp/results"
        return 0
    fi
    taskset -c "$wrk_cpu" wrk -t1 -c"$conns" -d"${warmup}s" "$url" >/dev/null 2>&1 || true
    : >"$tmp/runs"
    for i in $(seq 1 "$runs"); do
        out=$(taskset -c "$wrk_cpu" wrk -t1 -c"$conns" -d"${secs}s" --latency "$url" 2>&1)
        rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
        p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
        p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
        # Non-2xx answers and socket errors (connect/read/write/timeout) both count as errors.
        errs=$(awk '/Non-2xx or 3xx responses:/ { n += $NF }
                    /Socket errors:/ { gsub(/,/, ""); n += $4 + $6 + $8 + $10 }
                    END { print n + 0 }' <<<"$out")
        log "$name run $i: ${rps} req/s, p50 ${p50} ms, p99 ${p99} ms, errors ${errs}"
        echo "$rps $p50 $p99 $errs" >>"$tmp/runs"
    done
    # The median run by req/s; its latencies are reported with it (figures of one run, not mixed).
    sort -n -k1,1 "$tmp/runs" | awk -v n="$runs" -v name="$name" 'NR == int((n + 1) / 2) { print name, $1, $2, $3, $4 }' \
        >>"$tmp/results"
}

# ---- PostgreSQL ----
start_postgres() {
    pg_bin=$(ls -d /usr/lib/postgresql/15/bin 2>/dev/null || dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/x)")
    if [ ! -x "$pg_bin/initdb" ] || [ ! -x "$pg_bin/pg_ctl" ]; then
        log "PostgreSQL binaries not found: skipping the PostgreSQL rows"
        return 1
    fi
    id postgres >/dev/null 2>&1 || { log "no postgres user: skipping the PostgreSQL rows"; return 1; }
    pg_dir=$tmp/pg
    mkdir -p "$pg_dir"
    chown postgres "$pg_dir"
    chmod 700 "$pg_dir"
    pg_port=$(free_port)
    runuser -u postgres -- "$pg_bin/initdb" -D "$pg_dir/data" -A trust -U postgres >"$tmp/initdb.log" 2>&1 ||
        { log "initdb failed: $(tail -3 "$tmp/initdb.log")"; return 1; }
    runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $pg_dir -c fsync=off" start >/dev/null ||
        { log "PostgreSQL did not start: $(tail -3 "$pg_dir/log")"; return 1; }
    log "PostgreSQL 15 on 127.0.0.1:$pg_port"
}

# ---- Doppel ----
# start_doppel WORKERS [DATABASE_URL]: sets doppel_pid and doppel_port.
start_doppel() {
    local workers=$1 dburl=${2:-} data
    data=$(mktemp -d "$tmp/data.XXXXXX")
    doppel_port=$(free_port)
    local args=(serve --listen "127.0.0.1:$doppel_port" --data-dir "$data" --test-routes --log-level warn
        --workers "$workers")
    [ -n "$dburl" ] && args+=(--database-url "$dburl")
    taskset -c "$srv_cpu" ./doppel "${args[@]}" >>"$tmp/doppel.log" 2>&1 &
    doppel_pid=$!
    pids+=("$doppel_pid")
    if ! wait_http "http://127.0.0.1:$doppel_port/health" "$doppel_pid"; then
        log "doppel did not start:"
        tail -20 "$tmp/doppel.log" >&2
        exit 1
    fi
}

perf_sample() {
    local pid=$1 url=$2
    if ! command -v perf >/dev/null; then
        log "perf not installed: no profile"
        return 0
    fi
    taskset -c "$wrk_cpu" wrk -t1 -c"$conns" -d"$((secs > 5 ? secs : 5))s" "$url" >/dev/null 2>&1 &
    local wpid=$!
    sleep 1
    if perf record -F 999 -g -p "$pid" -o "$tmp/perf.data" -- sleep 3 >/dev/null 2>"$tmp/perf.err"; then
        echo
        echo "perf: hottest symbols in doppel during /health (self time, top 25)"
        perf report -i "$tmp/perf.data" --no-children --sort symbol --stdio 2>/dev/null |
            grep -E '^ +[0-9.]+%' | head -25
    else
        log "perf record failed: $(head -2 "$tmp/perf.err")"
    fi
    wait "$wpid" 2>/dev/null || true
}

# ---- the runs ----
: >"$tmp/results"
: >"$tmp/rss"

log "ceiling: build/bench/ceiling (libmicrohttpd $(pkg-config --modversion libmicrohttpd), epoll, 1 thread)"
ceil_port=$(free_port)
taskset -c "$srv_cpu" build/bench/ceiling "$ceil_port" >"$tmp/ceiling.log" 2>&1 &
ceil_pid=$!
pids+=("$ceil_pid")
wait_http "http://127.0.0.1:$ceil_port/" "$ceil_pid" || { log "ceiling did not start"; cat "$tmp/ceiling.log" >&2; exit 1; }
bench_url "ceiling (libmicrohttpd hello)" "http://127.0.0.1:$ceil_port/"
stop_pid "$ceil_pid"

# bench_doppel LABEL DBURL: /health once (workers 1), then the database route for each worker count.
bench_doppel() {
    local label=$1 dburl=$2 w first=1 idle loaded
    for w in $workers_list; do
        start_doppel "$w" "$dburl"
        sleep 0.5
        idle=$(rss_kb "$doppel_pid")
        if [ "$first" = 1 ]; then
            bench_url "doppel /health ($label, $w worker)" "http://127.0.0.1:$doppel_port/health"
            if [ "${BENCH_PERF:-0}" = 1 ]; then
                perf_sample "$doppel_pid" "http://127.0.0.1:$doppel_port/health"
            fi
        fi
        bench_url "doppel _test/row ($label, $w worker$([ "$w" = 1 ] || echo s))" \
            "http://127.0.0.1:$doppel_port/api/v1/_test/row"
        loaded=$(rss_kb "$doppel_pid")
        echo "$label, --workers $w: RSS idle $((idle / 1024)).$(((idle % 1024) * 10 / 1024)) MB -> after load $((loaded / 1024)).$(((loaded % 1024) * 10 / 1024)) MB" >>"$tmp/rss"
        stop_pid "$doppel_pid"
        first=0
    done
}

bench_doppel sqlite ""
if [ "${BENCH_PG:-1}" != 0 ] && start_postgres; then
    bench_doppel postgres "postgres://postgres@127.0.0.1:$pg_port/postgres"
fi

# ---- the table ----
ceil_rps=$(awk 'NR == 1 { print $2 }' "$tmp/results")
echo
echo "HTTP benchmark: wrk -t1 -c$conns -d${secs}s --latency, median of $runs runs; server on core $srv_cpu, wrk on core $wrk_cpu"
echo "($(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'))"
echo
awk -v ceil="$ceil_rps" '
    BEGIN { printf "| %-40s | %10s | %8s | %8s | %10s | %6s |\n", "target", "req/s", "p50 ms", "p99 ms", "% ceiling", "errors"
            printf "|%s|%s|%s|%s|%s|%s|\n", "------------------------------------------", "-----------:", "---------:", "---------:", "-----------:", "-------:" }
    {
        name = $1; for (i = 2; i <= NF - 4; i++) name = name " " $i
        rps = $(NF - 3); p50 = $(NF - 2); p99 = $(NF - 1); err = $NF
        pct = (rps == "-" || ceil + 0 == 0) ? "-" : sprintf("%.0f%%", 100 * rps / ceil)
        printf "| %-40s | %10s | %8s | %8s | %10s | %6s |\n", name, rps, p50, p99, pct, err
    }' "$tmp/results"
echo
echo "Doppel RSS (VmRSS):"
sed 's/^/  /' "$tmp/rss"
echo
echo "Targets (issue): /health >= 90% and the database route >= 50% of the ceiling's req/s. Figures only: no pass/fail."
