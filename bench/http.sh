#!/usr/bin/env bash
# HTTP benchmark: wrk on loopback against Doppel's /health and a database-backed JSON route, next to a libmicrohttpd ceiling.
#
# Targets: build/bench/ceiling (bench/ceiling.c: libmicrohttpd answering from memory, the ceiling
# on this machine), Doppel's GET /health, and GET /api/v1/_test/row (one row read through a
# worker) on SQLite and on a throwaway PostgreSQL 15, with --workers 1 and 2. The server is pinned
# to one core and wrk (one thread, 64 connections) to another. All servers start first; the runs
# go round-robin over the targets. Prints, per target: req/s, p50 and p99 of the median run, the
# share of the ceiling's req/s, the best run, and the server's CPU time per request (steadier than
# req/s when something else loads the machine); then Doppel's RSS idle and after load.
# It prints figures and never passes or fails on time.
#
# Environment: BENCH_SECONDS (default 10) per run, BENCH_RUNS (default 3), BENCH_WARMUP (2 s),
# BENCH_CONNECTIONS (64), BENCH_SERVER_CPU (0), BENCH_WRK_CPU (1), BENCH_PG=0 to skip
# PostgreSQL, BENCH_WORKERS ("1 2": the worker counts tried), BENCH_PERF=1 to profile Doppel
# with perf during a /health run.
set -euo pipefail

cd "$(dirname "$0")/.."
secs=${BENCH_SECONDS:-10}
runs=${BENCH_RUNS:-3}
warmup=${BENCH_WARMUP:-2}
conns=${BENCH_CONNECTIONS:-64}
srv_cpu=${BENCH_SERVER_CPU:-0}
wrk_cpu=${BENCH_WRK_CPU:-1}
workers_list=${BENCH_WORKERS:-1 2}

log() { printf '[bench] %s\n' "$*" >&2; }

# ---- prerequisites ----
mkdir -p build/bench
if ! make -j2 doppel >build/bench/make.log 2>&1; then
    [ -x ./doppel ] || { tail -20 build/bench/make.log >&2; exit 1; }
    log "make failed (see build/bench/make.log): benchmarking the existing ./doppel"
fi
if ! command -v wrk >/dev/null; then
    log "installing wrk"
    apt-get install -y --no-install-recommends wrk >&2 || { apt-get update >&2 && apt-get install -y --no-install-recommends wrk >&2; }
fi
for tool in taskset curl pkg-config; do
    command -v "$tool" >/dev/null || { log "missing $tool"; exit 1; }
done
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
chmod 755 "$tmp" # the postgres user creates its cluster inside
# Every run uses this copy: a rebuild of ./doppel during the benchmark must not change the binary.
cp ./doppel "$tmp/doppel"
pids=()
pg_dir=""
pg_bin=""
cleanup() {
    local all=("${pids[@]+"${pids[@]}"}") p
    for p in "${all[@]+"${all[@]}"}"; do
        stop_pid "$p"
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

# stop_pid PID: SIGTERM, then SIGKILL if it has not exited within 10 s (a shutdown hang is reported).
stop_pid() {
    local pid=$1
    kill "$pid" 2>/dev/null || true
    # (the sleep gets no stdout/stderr: left behind by the kill below, it must not hold a pipe open)
    (sleep 10 >/dev/null 2>&1 && kill -9 "$pid" 2>/dev/null &&
        echo "[bench] pid $pid did not exit within 10 s of SIGTERM: killed" >&2) &
    local guard=$!
    wait "$pid" 2>/dev/null || true
    kill "$guard" 2>/dev/null || true
    wait "$guard" 2>/dev/null || true
    local keep=() p
    for p in "${pids[@]+"${pids[@]}"}"; do
        [ "$p" = "$pid" ] || keep+=("$p")
    done
    pids=("${keep[@]+"${keep[@]}"}")
    return 0
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

# check_url NAME URL: 0 when URL answers 200 (a wrong route would be measured as fast 404s).
check_url() {
    local code
    code=$(curl -s -o "$tmp/check.body" -w '%{http_code}' "$2" || true)
    [ "$code" = 200 ] && return 0
    log "$1: $2 answered $code ($(head -c 200 "$tmp/check.body" 2>/dev/null)); skipped"
    return 1
}

# cpu_ticks PID: user + system clock ticks of all of PID's threads so far.
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }' || echo 0; }
clk_tck=$(getconf CLK_TCK)

# wrk_once NAME URL PID OUTFILE: one wrk run; appends "rps p50 p99 errors cpu_us_per_request" to
# OUTFILE. The server's CPU time per request hardly depends on what else runs on the machine, so it
# compares servers even when req/s are disturbed (it leaves out PostgreSQL's own processes).
wrk_once() {
    local name=$1 url=$2 pid=$3 file=$4 out rps p50 p99 errs t0 t1 nreq cpu
    t0=$(cpu_ticks "$pid")
    out=$(taskset -c "$wrk_cpu" wrk -t1 -c"$conns" -d"${secs}s" --latency "$url" 2>&1)
    t1=$(cpu_ticks "$pid")
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
    p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
    p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
    nreq=$(awk '/ requests in / { print $1 }' <<<"$out")
    cpu=$(awk -v d="$((t1 - t0))" -v hz="$clk_tck" -v n="${nreq:-0}" 'BEGIN { printf "%.1f", n ? d / hz * 1e6 / n : 0 }')
    # Non-2xx answers and socket errors (connect/read/write/timeout) both count as errors.
    errs=$(awk '/Non-2xx or 3xx responses:/ { n += $NF }
                /Socket errors:/ { gsub(/,/, ""); n += $4 + $6 + $8 + $10 }
                END { print n + 0 }' <<<"$out")
    log "$name: ${rps:-?} req/s, p50 ${p50} ms, p99 ${p99} ms, errors ${errs}, server CPU ${cpu} us/request"
    echo "${rps:-0} $p50 $p99 $errs $cpu" >>"$file"
}

# median_line NAME FILE: "NAME rps p50 p99 errors best" of the median run by req/s (its latencies
# come with it: figures of one run, not mixed), and the best run's req/s (the least disturbed by
# anything else running on the machine).
median_line() {
    local n
    n=$(wc -l <"$2")
    sort -n -k1,1 "$2" | awk -v n="$n" -v name="$1" 'NR == int((n + 1) / 2) { m = name " " $1 " " $2 " " $3 " " $4 }
        { best = $1 } END { print m, best }'
}

# median_cpu FILE: the median of the runs' CPU time per request.
median_cpu() {
    local n
    n=$(wc -l <"$1")
    awk '{ print $5 }' "$1" | sort -n | awk -v n="$n" 'NR == int((n + 1) / 2) { print }'
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
    taskset -c "$srv_cpu" "$tmp/doppel" "${args[@]}" >>"$tmp/doppel.log" 2>&1 &
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
    if perf record -F 499 --call-graph dwarf -p "$pid" -o "$tmp/perf.data" -- sleep 3 >/dev/null 2>"$tmp/perf.err"; then
        perf report -i "$tmp/perf.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null >"$tmp/perf.self" || true
        perf report -i "$tmp/perf.data" --children --sort dso,symbol --stdio -g none 2>/dev/null >"$tmp/perf.children" || true
        echo
        echo "perf: doppel during /health, self time (top 20)"
        grep -E '^ +[0-9.]+%' "$tmp/perf.self" | sed 's/ *- *- *$//' | head -20 || true
        echo
        echo "perf: doppel's own functions, with what they call (top 20)"
        grep -E '^ +[0-9.]+% +[0-9.]+% +doppel ' "$tmp/perf.children" | sed 's/ *- *- *$//' | head -20 || true
    else
        log "perf record failed: $(head -2 "$tmp/perf.err")"
    fi
    wait "$wpid" 2>/dev/null || true
}

# ---- the runs ----
# Every server is started first and stays up, idle, while the others are measured; the runs go
# round-robin over the targets, so a burst of load from elsewhere on the machine spreads over all
# of them instead of skewing one.
: >"$tmp/results"
: >"$tmp/rss"
# Other processes on these cores skew everything: the load average is printed with the table.
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

names=() urls=() tpids=() rss_pids=() rss_labels=() rss_idle=()
add_target() { names+=("$1"); urls+=("$2"); tpids+=("$3"); }

log "ceiling: build/bench/ceiling (libmicrohttpd $(pkg-config --modversion libmicrohttpd), epoll, 1 thread)"
ceil_port=$(free_port)
taskset -c "$srv_cpu" build/bench/ceiling "$ceil_port" >"$tmp/ceiling.log" 2>&1 &
ceil_pid=$!
pids+=("$ceil_pid")
wait_http "http://127.0.0.1:$ceil_port/" "$ceil_pid" || { log "ceiling did not start"; cat "$tmp/ceiling.log" >&2; exit 1; }
add_target "ceiling (libmicrohttpd hello)" "http://127.0.0.1:$ceil_port/" "$ceil_pid"

# add_doppel LABEL DBURL: a Doppel per worker count; /health is measured on the first one only
# (it never touches the database or a worker).
health_pid=""
add_doppel() {
    local label=$1 dburl=$2 w
    for w in $workers_list; do
        start_doppel "$w" "$dburl"
        if [ -z "$health_pid" ]; then
            health_pid=$doppel_pid
            health_url="http://127.0.0.1:$doppel_port/health"
            add_target "doppel /health ($label, $w worker$([ "$w" = 1 ] || echo s))" "$health_url" "$doppel_pid"
        fi
        add_target "doppel _test/row ($label, $w worker$([ "$w" = 1 ] || echo s))" \
            "http://127.0.0.1:$doppel_port/api/v1/_test/row" "$doppel_pid"
        rss_pids+=("$doppel_pid")
        rss_labels+=("$label, --workers $w")
    done
}

add_doppel sqlite ""
if [ "${BENCH_PG:-1}" != 0 ] && start_postgres; then
    add_doppel postgres "postgres://postgres@127.0.0.1:$pg_port/postgres"
fi

sleep 0.5
for i in "${!rss_pids[@]}"; do
    rss_idle+=("$(rss_kb "${rss_pids[$i]}")")
done

live=()
for i in "${!names[@]}"; do
    : >"$tmp/runs.$i"
    if check_url "${names[$i]}" "${urls[$i]}"; then
        live+=("$i")
        taskset -c "$wrk_cpu" wrk -t1 -c"$conns" -d"${warmup}s" "${urls[$i]}" >/dev/null 2>&1 || true
    fi
done
for r in $(seq 1 "$runs"); do
    for i in "${live[@]}"; do
        wrk_once "run $r: ${names[$i]}" "${urls[$i]}" "${tpids[$i]}" "$tmp/runs.$i"
    done
done
for i in "${!names[@]}"; do
    if [ -s "$tmp/runs.$i" ]; then
        echo "$(median_line "${names[$i]}" "$tmp/runs.$i") $(median_cpu "$tmp/runs.$i")" >>"$tmp/results"
    else
        echo "${names[$i]} - - - - - -" >>"$tmp/results"
    fi
done

mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }
for i in "${!rss_pids[@]}"; do
    echo "${rss_labels[$i]}: RSS idle $(mb "${rss_idle[$i]}") -> after load $(mb "$(rss_kb "${rss_pids[$i]}")")" >>"$tmp/rss"
done

if [ "${BENCH_PERF:-0}" = 1 ] && [ -n "$health_pid" ]; then
    perf_sample "$health_pid" "$health_url" >"$tmp/perf.out"
fi

# ---- the table ----
ceil_rps=$(awk 'NR == 1 { print $(NF - 5) }' "$tmp/results")
ceil_best=$(awk 'NR == 1 { print $(NF - 1) }' "$tmp/results")
ceil_cpu=$(awk 'NR == 1 { print $NF }' "$tmp/results")
echo
echo "HTTP benchmark: wrk -t1 -c$conns -d${secs}s --latency, median of $runs runs; server on core $srv_cpu, wrk on core $wrk_cpu"
echo "($(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'); load average before: $load_before, after: $(cut -d' ' -f1-3 /proc/loadavg))"
echo
awk -v ceil="$ceil_rps" -v bceil="$ceil_best" -v cceil="$ceil_cpu" '
    function pct(a, b) { return (a == "-" || b + 0 == 0) ? "-" : sprintf("%.0f%%", 100 * a / b) }
    BEGIN { printf "| %-40s | %9s | %6s | %6s | %9s | %9s | %6s | %10s | %9s | %6s |\n", "target", "req/s", "p50 ms",
                   "p99 ms", "% ceiling", "best req/s", "% best", "CPU us/req", "% by CPU", "errors"
            printf "|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n", "------------------------------------------", "----------:",
                   "-------:", "-------:", "----------:", "----------:", "-------:", "-----------:", "----------:",
                   "-------:" }
    {
        name = $1; for (i = 2; i <= NF - 6; i++) name = name " " $i
        rps = $(NF - 5); p50 = $(NF - 4); p99 = $(NF - 3); err = $(NF - 2); best = $(NF - 1); cpu = $NF
        printf "| %-40s | %9s | %6s | %6s | %9s | %9s | %6s | %10s | %9s | %6s |\n", name, rps, p50, p99, pct(rps, ceil),
               best, pct(best, bceil), cpu, pct(cceil, cpu), err
    }' "$tmp/results"
echo "(req/s, p50, p99: the median run; best req/s: the fastest run, against the ceiling's fastest; CPU us/req:"
echo " the server process's CPU time per answered request, median; % by CPU: ceiling's CPU/req over this one's,"
echo " i.e. the share of the ceiling's req/s it would reach on a core of its own. PostgreSQL's CPU is not counted.)"
echo
echo "Doppel RSS (VmRSS):"
sed 's/^/  /' "$tmp/rss"
echo
echo "Targets (issue): /health >= 90% and the database route >= 50% of the ceiling's req/s. Figures only: no pass/fail."
[ -s "$tmp/perf.out" ] && cat "$tmp/perf.out"
exit 0
