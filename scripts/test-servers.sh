#!/usr/bin/env bash
# Throwaway PostgreSQL and Redis servers on loopback for the test suites.
# Usage: scripts/test-servers.sh start DIR   — starts both, writes DIR/env (DOPPEL_TEST_PG_URL, DOPPEL_TEST_REDIS_URL)
#        scripts/test-servers.sh stop DIR    — stops both, removes DIR
# A server whose binary is missing is skipped (and its variable left out of DIR/env), loudly.
# As root, PostgreSQL runs as the `postgres` user (it refuses root).
set -euo pipefail

cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
  echo "usage: $0 start|stop DIR" >&2
  exit 2
fi

say() { echo "test-servers: $*" >&2; }
loud() {
  echo "test-servers: ################################################################" >&2
  echo "test-servers: ## $*" >&2
  echo "test-servers: ################################################################" >&2
}

# A TCP port on 127.0.0.1 that nothing listens on (bash's /dev/tcp: a refused connect = free).
free_port() {
  local p i
  for i in $(seq 1 200); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

pg_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
      echo "$d"
      return 0
    fi
  done
  if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
    dirname "$(command -v initdb)"
    return 0
  fi
  return 1
}

# Runs a PostgreSQL tool as the user that owns the cluster.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

start_pg() {
  local bin port pgdir
  if ! bin=$(pg_bindir); then
    loud "PostgreSQL (initdb/pg_ctl) NOT FOUND: PostgreSQL tests will be SKIPPED"
    return 0
  fi
  pgdir="$dir/pg"
  mkdir -p "$pgdir"
  if [ "$(id -u)" -eq 0 ]; then
    if ! id postgres >/dev/null 2>&1; then
      loud "no 'postgres' user to run PostgreSQL as root: PostgreSQL tests will be SKIPPED"
      return 0
    fi
    chown postgres: "$pgdir"
    if ! runuser -u postgres -- test -w "$pgdir"; then
      say "the postgres user cannot reach $pgdir: every parent directory must be searchable (chmod o+x)"
      return 1
    fi
  fi
  chmod 700 "$pgdir"
  as_pg "$bin/initdb" -D "$pgdir/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 --no-sync \
    >"$dir/pg-initdb.log" 2>&1 || {
    say "initdb failed:"
    cat "$dir/pg-initdb.log" >&2
    return 1
  }
  echo "$bin" >"$dir/pg.bin" # from here on, stop tries pg_ctl
  local tries
  for tries in 1 2 3 4 5; do
    port=$(free_port)
    if as_pg "$bin/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w -t 60 start \
      -o "-p $port -k $pgdir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
          -c full_page_writes=off -c max_connections=200 -c shared_buffers=32MB" >/dev/null 2>&1; then
      echo "$port" >"$dir/pg.port"
      echo "DOPPEL_TEST_PG_URL=postgres://postgres@127.0.0.1:$port/postgres" >>"$dir/env"
      say "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
      return 0
    fi
    say "PostgreSQL did not start on port $port (try $tries):"
    tail -n 5 "$pgdir/server.log" >&2 || true
  done
  return 1
}

start_redis() {
  local port
  if ! command -v redis-server >/dev/null; then
    loud "redis-server NOT FOUND: Redis tests will be SKIPPED"
    return 0
  fi
  mkdir -p "$dir/redis"
  local tries
  for tries in 1 2 3 4 5; do
    port=$(free_port)
    rm -f "$dir/redis.pid"
    if redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --databases 128 --daemonize yes \
      --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir/redis" >/dev/null 2>&1; then
      local i
      for i in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && [ -s "$dir/redis.pid" ]; then
          echo "$port" >"$dir/redis.port"
          echo "DOPPEL_TEST_REDIS_URL=redis://127.0.0.1:$port" >>"$dir/env"
          say "Redis $(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p') on 127.0.0.1:$port"
          return 0
        fi
        sleep 0.05
      done
    fi
    say "Redis did not start on port $port (try $tries):"
    tail -n 5 "$dir/redis.log" >&2 2>/dev/null || true
    [ -s "$dir/redis.pid" ] && kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
  done
  return 1
}

stop_pg() {
  [ -f "$dir/pg.bin" ] || return 0
  local bin
  bin=$(cat "$dir/pg.bin")
  if [ -d "$dir/pg/data" ]; then
    as_pg "$bin/pg_ctl" -D "$dir/pg/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || {
      # Last resort: the postmaster's pid from its pid file.
      local pid
      pid=$(head -n 1 "$dir/pg/data/postmaster.pid" 2>/dev/null || true)
      [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
    }
  fi
  say "PostgreSQL stopped"
}

stop_redis() {
  [ -f "$dir/redis.pid" ] || return 0
  local pid i
  pid=$(cat "$dir/redis.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
    for i in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    kill -9 "$pid" 2>/dev/null || true
  fi
  say "Redis stopped"
}

case "$cmd" in
start)
  mkdir -p "$dir"
  chmod 755 "$dir" # the postgres user must reach DIR/pg
  : >"$dir/env"
  start_pg
  start_redis
  ;;
stop)
  [ -d "$dir" ] || exit 0
  rc=0
  stop_pg || rc=1
  stop_redis || rc=1
  rm -rf "$dir"
  exit $rc
  ;;
*)
  echo "usage: $0 start|stop DIR" >&2
  exit 2
  ;;
esac
