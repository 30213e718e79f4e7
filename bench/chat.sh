#!/usr/bin/env bash
# People chat benchmark: Doppel's events WebSocket beside the Express + Socket.io peer
# (../shared/peers/express), measured in the same run with the same load client.
#
# For each server in turn (the server pinned to one core, the Node client to the other):
#   1. the peers' chat figures (bench/chat-load.cjs, the peers' own client with the Doppel adapter
#      made real): A→B latency p50/p99 one message in flight, burst msgs/s with 64 in flight,
#      fan-out 1 → 100 receivers (deliveries/s, last receiver p50/p99) — with no idle
#      connections, then again with each of BENCH_IDLE (default "1000 10000") idle ones held open;
#   2. memory per idle connection, first, on the fresh server: its RSS before and after opening
#      BENCH_IDLE_MEMORY (100,000; fewer when the open-file limit is lower) idle event connections
#      of one user, divided by that count.
#   3. Doppel again from a C client (bench/chat-load.c, users and chats made by bench/chat-setup.py;
#      the idle sockets from bench/chat-idle.c), which does not saturate before the server: the same
#      three figures with the server's CPU time per message and per delivery, then the targets of
#      issue 15 beside them (p99 < 1 ms, 10x the peer's burst and fan-out rates of this run);
#   4. the machine's fan-out ceiling (bench/chat-ceiling.c): one process doing nothing but one
#      send a delivery on the server's core, to as many receivers read on the client's core.
# Doppel runs on SQLite in a fresh data directory (every message is committed before the sender's
# answer); the peer keeps everything in memory. Prints figures, never passes or fails.
#
# Environment: BENCH_SERVERS ("express doppel"), BENCH_IDLE ("1000 10000"), BENCH_IDLE_MEMORY (100000), BENCH_SERVER_CPU (1), BENCH_CLIENT_CPU (0),
# BENCH_MSGS (2000), BENCH_FANOUT (100), BENCH_DOPPEL_BIN (./doppel, built), BENCH_DOPPEL_FLAGS (extra serve flags,
# e.g. "--sqlite-mmap 0"), BENCH_PEERS (copy of ../shared/peers, default
# /tmp/doppel-chat-peers; npm ci runs there the first time).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
idle_list=${BENCH_IDLE-1000 10000} # BENCH_IDLE="" : no idle rounds
# Memory per idle connection is measured with this many (100,000 where the open-file limit allows).
memory_idle=${BENCH_IDLE_MEMORY:-100000}
srv_cpu=${BENCH_SERVER_CPU:-1}
cli_cpu=${BENCH_CLIENT_CPU:-0}
msgs=${BENCH_MSGS:-2000}
fanout=${BENCH_FANOUT:-100}
peers=${BENCH_PEERS:-/tmp/doppel-chat-peers}
log() { printf '[bench] %s\n' "$*" >&2; }

doppel_bin=${BENCH_DOPPEL_BIN:-./doppel}
[ -n "${BENCH_DOPPEL_BIN:-}" ] || make -j2 doppel >/dev/null
if [ ! -d "$peers/bench/node_modules" ] || [ ! -d "$peers/express/node_modules" ]; then
    log "copying ../shared/peers to $peers (npm ci of the peer and its client)"
    rm -rf "$peers" && cp -r "$REPO/../shared/peers" "$peers" 2>/dev/null || cp -r /work/shared/peers "$peers"
    (cd "$peers/bench" && npm ci --no-audit --no-fund >/dev/null)
    (cd "$peers/express" && npm ci --no-audit --no-fund >/dev/null)
fi
cp bench/chat-load.cjs bench/chat-idle.cjs "$peers/bench/"
max_idle=0
for n in $idle_list $memory_idle; do [ "$n" -gt "$max_idle" ] && max_idle=$n; done
# 100,000 sockets need a higher limit of open files than most shells have (raise the hard limit
# first: `ulimit -Hn 200000` as root, or LimitNOFILE= in a unit); the idle counts are cut to fit.
ulimit -n $((max_idle + 4096)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fit=$(($(ulimit -n) - 2048))
if [ "$max_idle" -gt "$fit" ]; then
    log "the open-file limit is $(ulimit -n) (hard $(ulimit -Hn)): idle connections cut from $max_idle to $fit"
    max_idle=$fit
fi

tmp=$(mktemp -d /tmp/doppel-chat-bench.XXXXXX)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
cc -O2 -o "$tmp/chat-idle" bench/chat-idle.c
cc -O2 -o "$tmp/chat-load" bench/chat-load.c -lm
cc -O2 -o "$tmp/chat-ceiling" bench/chat-ceiling.c

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
# utime + stime of a process, in clock ticks (fields 14 and 15 after the command's parentheses).
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
hz=$(getconf CLK_TCK)
wait_up() { for _ in $(seq 100); do curl -sf "$1/health" >/dev/null && return 0; sleep 0.1; done; return 1; }

# Sign-ups are the load client's setup, not chat: the cheapest password hash on both sides (64 KiB
# argon2id here, bcrypt cost 4 in the peer), so that the CPU time measured is the chat's.
start_doppel() {
    local port=$1
    # shellcheck disable=SC2086 # BENCH_DOPPEL_FLAGS is a list of flags
    taskset -c "$srv_cpu" "$doppel_bin" serve --listen "127.0.0.1:$port" --data-dir "$tmp/data" \
        --log-level warn --signup-org default --auth-rate 100000 --api-rate 1000000 \
        --argon2-memory-kib 64 --argon2-ops 1 --chat-group-max 200 --max-conns-per-ip 0 --chat-frame-rate 100000 \
        --max-connections $((max_idle + 1000)) ${BENCH_DOPPEL_FLAGS:-} >"$tmp/doppel.log" 2>&1 &
    server_pid=$!
}
start_express() {
    local port=$1
    (cd "$peers/express" && PORT=$port NODE_ENV=production PEER_BCRYPT_COST=4 exec taskset -c "$srv_cpu" node server.js) \
        >"$tmp/express.log" 2>&1 &
    server_pid=$!
}

# The figures of one server: label, proto, start function.
run_server() {
    local label=$1 proto=$2 starter=$3 port base token
    port=$(free_port)
    base="http://127.0.0.1:$port"
    mkdir -p "$tmp/data"
    $starter "$port"
    wait_up "$base" || { log "$label did not start"; cat "$tmp/$label.log" >&2; exit 1; }
    log "$label: memory per idle connection ($max_idle)"
    token=$(curl -sf -H 'content-type: application/json' -d "{\"email\":\"idle-$RANDOM$RANDOM@bench.example\",\"password\":\"bench-password-1\",\"display_name\":\"idle\"}" \
        "$base/api/v1/auth/signup" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    local before after fifo="$tmp/idle.fifo"
    sleep 1
    before=$(rss_kib "$server_pid")
    mkfifo "$fifo"
    # Doppel's idle sockets come from the C client (bench/chat-idle.c: 100,000 fit in it, from
    # several loopback source addresses); the peer's Socket.io ones from its Node client.
    if [ "$proto" = doppel-ws ]; then
        taskset -c "$cli_cpu" "$tmp/chat-idle" "$port" "/api/v1/events?token=$token" "$max_idle" 8 256 \
            <"$fifo" >"$tmp/idle.out" 2>&1 &
    else
        (cd "$peers/bench" && taskset -c "$cli_cpu" node chat-idle.cjs --base "$base" --proto "$proto" --token "$token" \
            --n "$max_idle" <"$fifo" >"$tmp/idle.out" 2>&1) &
    fi
    local idle_pid=$!
    exec 9>"$fifo"
    for _ in $(seq 1500); do grep -q '^open\|idle:' "$tmp/idle.out" 2>/dev/null && break; sleep 0.2; done
    sleep 2
    after=$(rss_kib "$server_pid")
    printf '%s  idle connections: %s; RSS %d MiB -> %d MiB: %.2f KiB per idle connection (target < 8 KiB)\n' "$label" \
        "$(cat "$tmp/idle.out")" $((before / 1024)) $((after / 1024)) \
        "$(echo "($after - $before) / $max_idle" | bc -l)"
    exec 9>&-
    wait "$idle_pid" || true
    rm -f "$fifo"
    log "$label: chat figures"
    for idle in 0 $idle_list; do
        local cpu0 cpu1
        cpu0=$(cpu_ticks "$server_pid")
        (cd "$peers/bench" && taskset -c "$cli_cpu" node chat-load.cjs --base "$base" --proto "$proto" \
            --msgs "$msgs" --fanout "$fanout" --idle "$idle" 2>&1 || echo "chat figures with $idle idle: the client failed") |
            tee "$tmp/$label-$idle.out" | grep -v '^CHAT_JSON' | sed "s/^/$label  /"
        cpu1=$(cpu_ticks "$server_pid")
        # The server's own CPU time for the whole run (latency and burst messages, 200 fan-out
        # messages to $fanout each): on a loaded machine a steadier comparison than wall-clock rates.
        printf '%s  server CPU time for the run above (%d idle): %.2f s user+system, %.1f µs per delivery\n' "$label" "$idle" \
            "$(echo "($cpu1 - $cpu0) / $hz" | bc -l)" \
            "$(echo "($cpu1 - $cpu0) / $hz * 1000000 / ($msgs * 2 + 200 * $fanout)" | bc -l)"
    done
    # Doppel again from the C client (bench/chat-load.c: the Node client saturates first), with the
    # server's CPU per message and per delivery; the idle sockets (of another user) from chat-idle.
    if [ "$proto" = doppel-ws ]; then
        log "$label: chat figures from the C client"
        for idle in 0 $idle_list; do
            local ipid="" ififo="$tmp/idle-$idle.fifo"
            if [ "$idle" -gt 0 ]; then
                local itoken
                itoken=$(curl -sf -H 'content-type: application/json' \
                    -d "{\"email\":\"idle-$idle-$RANDOM@bench.example\",\"password\":\"bench-password-1\",\"display_name\":\"idle\"}" \
                    "$base/api/v1/auth/signup" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
                mkfifo "$ififo"
                taskset -c "$cli_cpu" "$tmp/chat-idle" "$port" "/api/v1/events?token=$itoken" "$idle" 8 256 \
                    <"$ififo" >"$tmp/idle-$idle.out" 2>&1 &
                ipid=$!
                exec 8>"$ififo"
                for _ in $(seq 1500); do grep -q '^open\|idle:' "$tmp/idle-$idle.out" 2>/dev/null && break; sleep 0.2; done
            fi
            python3 bench/chat-setup.py "$base" "$port" "$fanout" "$tmp/setup"
            SERVER_PID=$server_pid taskset -c "$cli_cpu" "$tmp/chat-load" "$tmp/setup" "$msgs" 200 2>&1 |
                sed "s/^/$label  ($idle idle) /" | tee -a "$tmp/c-client.out" || echo "$label  C client failed ($idle idle)"
            if [ -n "$ipid" ]; then
                exec 8>&-
                wait "$ipid" || true
                rm -f "$ififo"
            fi
        done
    fi
    kill "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
    rm -rf "$tmp/data"
}

log "load: $(cut -d' ' -f1-3 /proc/loadavg) (other sessions share this machine: compare the two servers of one run)"
for s in ${BENCH_SERVERS:-express doppel}; do
    case $s in
    express) run_server express socketio start_express ;;
    doppel) run_server doppel doppel-ws start_doppel ;;
    esac
done

# The machine's ceiling for fan-out (bench/chat-ceiling.c): one send a delivery on the server's
# core and nothing else, to as many receivers, read on the client's core.
log "fan-out ceiling: one send a delivery, nothing else ($fanout receivers)"
"$tmp/chat-ceiling" "$fanout" 2000 "$srv_cpu" "$cli_cpu" | tee "$tmp/ceiling.out"

# The targets of issue 15 beside the figures: 10× the peer's burst and fan-out rates of this run.
if [ -f "$tmp/express-0.out" ]; then
    python3 - "$tmp/express-0.out" "$tmp/c-client.out" "$tmp" $idle_list <<'PY'
import json, os, re, sys
def peer_of(path):
    out = {}
    for line in open(path) if os.path.exists(path) else []:
        if line.startswith("CHAT_JSON "):
            out = json.loads(line[10:])
    return out
peer = peer_of(sys.argv[1])
c = open(sys.argv[2]).read() if os.path.exists(sys.argv[2]) else ""
def first(pattern):
    m = re.search(pattern, c)
    return float(m.group(1)) if m else float("nan")
burst, fan, p99 = first(r"\(0 idle\) C client: chat burst .*?: (\d+) msgs/s"), \
    first(r"\(0 idle\) C client: chat fan-out .*?: (\d+) deliveries/s"), first(r"\(0 idle\) C client: chat latency .*?p99 ([\d.]+) ms")
pb, pf = peer.get("burst", {}).get("msgs_per_s", float("nan")), peer.get("fanout", {}).get("deliveries_per_s", float("nan"))
print("targets (issue 15), Doppel from the C client, no idle connections:")
print("  A->B p99 %.2f ms (target < 1 ms)" % p99)
print("  burst %.0f msgs/s = %.2fx the peer's %.0f (target >= 10x: %.0f)" % (burst, burst / pb, pb, 10 * pb))
print("  fan-out %.0f deliveries/s = %.2fx the peer's %.0f (target >= 10x: %.0f)" % (fan, fan / pf, pf, 10 * pf))
ceil = re.search(r"ceiling: (\d+) deliveries/s", open(os.path.join(sys.argv[3], "ceiling.out")).read())
if ceil:
    cf = float(ceil.group(1))
    print("  fan-out ceiling of this machine (a bare send a delivery): %.0f deliveries/s = %.2fx the peer's;"
          " Doppel at %.0f%% of it" % (cf, cf / pf, 100 * fan / cf))
for idle in sys.argv[4:]:
    f = first(r"\(%s idle\) C client: chat fan-out .*?: (\d+) deliveries/s" % idle)
    p = peer_of(os.path.join(sys.argv[3], "express-%s.out" % idle)).get("fanout", {}).get("deliveries_per_s", float("nan"))
    print("  fan-out with %s idle connections: %.0f deliveries/s = %.2fx the peer's %.0f with as many" % (idle, f, f / p, p))
PY
fi
