#!/usr/bin/env bash
# Instructions per chat message and per fan-out delivery, under callgrind: figures a loaded machine
# does not change. Doppel runs under valgrind's callgrind on SQLite; bench/chat-load.c drives it
# (users and chats from bench/chat-setup.py). Three runs of the C client, counters zeroed before and
# dumped after each (every run opens the same 102 sockets and sends 200 warm-up messages A -> B):
#   base:    the warm-up alone;
#   msgs:    + MSGS A -> B twice (one in flight, then 64 in flight);
#   fan-out: + FANOUT+20 messages to a group of 100 receivers.
# Per message = (msgs - base) / (2 MSGS); per delivery = (fan-out - base) / ((FANOUT + 20) * 100).
# Every user hides their presence (its changes as sockets open and close are timing-dependent).
#
#   bash bench/chat-callgrind.sh [BINARY ...] [-- extra serve flags]   (default ./doppel; several: one row each)
# Environment: MSGS (200), FANOUT (30), CG_KEEP (a folder: keep each run's dump there for callgrind_annotate).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind missing: apt-get install -y valgrind" >&2; exit 2; }
BINS=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do BINS+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
[ ${#BINS[@]} -gt 0 ] || { make -j2 doppel >/dev/null; BINS=(./doppel); }
MSGS=${MSGS:-200}
FANOUT=${FANOUT:-30}
tmp=$(mktemp -d /tmp/doppel-chatcg.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
cc -O2 -o "$tmp/chat-load" bench/chat-load.c -lm

# Total instructions since the last zeroing (the dump's "summary:" line, summed over threads).
dump_ir() {
    rm -f "$tmp"/cg.*.[0-9]* 2>/dev/null || true
    callgrind_control -d "$pid" >/dev/null 2>&1
    sleep 0.5
    cat "$tmp"/cg.*.[0-9]* 2>/dev/null | awk '/^summary:/ {s += $2} END {print s + 0}'
    if [ -n "${CG_KEEP:-}" ]; then mkdir -p "$CG_KEEP" && cp "$tmp"/cg.*.[0-9]* "$CG_KEEP/" 2>/dev/null || true; fi
}
run_ir() { # msgs fanout-msgs
    callgrind_control -z "$pid" >/dev/null 2>&1
    "$tmp/chat-load" "$tmp/setup" "$1" "$2" >/dev/null 2>&1 || { echo "chat-load failed" >&2; exit 1; }
    sleep 1 # the closes of the run's sockets counted in it
    dump_ir
}

printf '%-28s %14s %16s\n' binary "Ir/message" "Ir/delivery"
for bin in "${BINS[@]}"; do
    port=$((20000 + RANDOM % 20000))
    rm -rf "$tmp/data" && mkdir -p "$tmp/data"
    valgrind --tool=callgrind --separate-threads=no --callgrind-out-file="$tmp/cg.%p" "$bin" serve \
        --listen "127.0.0.1:$port" --data-dir "$tmp/data" --log-level warn --signup-org default \
        --argon2-memory-kib 64 --argon2-ops 1 --api-rate 1000000 --auth-rate 100000 --chat-group-max 200 \
        --max-conns-per-ip 0 --chat-frame-rate 100000 --chat-presence-grace 0 "$@" >"$tmp/log" 2>&1 &
    pid=$!
    for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.2; done
    python3 bench/chat-setup.py "http://127.0.0.1:$port" "$port" 100 "$tmp/setup"
    # Presence hidden: a user's presence changes as sockets open and close are published at most
    # once a second, so how many go out depends on timing (and would blur the differences).
    awk '$1 == "a" || $1 == "b" || $1 == "r" {print $2}' "$tmp/setup" | while read -r tok; do
        curl -sf -X PATCH -H 'content-type: application/json' -H "authorization: Bearer $tok" \
            -d '{"hide_presence":true}' "http://127.0.0.1:$port/api/v1/chats/settings" >/dev/null
    done
    run_ir 0 0 >/dev/null # warms the server's caches and statements
    base=$(run_ir 0 0)
    msgs=$(run_ir "$MSGS" 0)
    fan=$(run_ir 0 "$FANOUT")
    printf '%-28s %14.0f %16.0f\n' "$bin $*" "$(echo "($msgs - $base) / (2 * $MSGS)" | bc -l)" \
        "$(echo "($fan - $base) / (($FANOUT + 20) * 100)" | bc -l)"
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
    pid=""
done
