#!/usr/bin/env bash
# Starts and stops a PostgreSQL 15 cluster for pqfile, as the `postgres` user
# when run as root (PostgreSQL refuses to run as root).
#
#   scripts/pg.sh start DATADIR [PORT]   init DATADIR if new, start, create
#                                        pqfile_db; prints the connection URL
#   scripts/pg.sh stop DATADIR           fast shutdown (no-op if not running)
#   scripts/pg.sh url DATADIR [PORT]     prints the URL only
#   scripts/pg.sh free-port              prints a free TCP port on 127.0.0.1
#
# DATADIR must be reachable by the postgres user (not under /root). The
# server listens on 127.0.0.1 only, with trust authentication: a development
# and test cluster, not a production one.
set -euo pipefail
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
DB_NAME=${PQFILE_DB_NAME:-pqfile_db}
log() { printf '[pg] %s\n' "$*" >&2; }

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

url() { echo "postgres://postgres@127.0.0.1:$2/$DB_NAME"; }

start() {
  local dir=$1 port=${2:-54329}
  [ -x "$PGBIN/initdb" ] || { log "PostgreSQL 15 not found in $PGBIN (run scripts/setup.sh --run)"; exit 1; }
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$dir"
    # Every parent must be traversable by postgres.
    if ! runuser -u postgres -- test -x "$dir"; then
      log "the postgres user cannot reach $dir; choose a data directory outside /root"; exit 1
    fi
  fi
  chmod 700 "$dir"
  if [ ! -f "$dir/PG_VERSION" ]; then
    log "initdb $dir"
    as_pg "$PGBIN/initdb" -D "$dir" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
  fi
  if as_pg "$PGBIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    log "already running ($dir)"
  else
    as_pg "$PGBIN/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 30 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300" start >/dev/null \
      || { log "PostgreSQL failed to start; see $dir/server.log"; tail -20 "$dir/server.log" >&2; exit 1; }
    log "started on 127.0.0.1:$port ($dir)"
  fi
  if ! psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
       "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'" | grep -q 1; then
    psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -qc "CREATE DATABASE $DB_NAME" >/dev/null
    log "created database $DB_NAME"
  fi
  url "$dir" "$port"
}

stop() {
  local dir=$1
  [ -f "$dir/PG_VERSION" ] || return 0
  if as_pg "$PGBIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    as_pg "$PGBIN/pg_ctl" -D "$dir" -m fast -w stop >/dev/null && log "stopped ($dir)"
  fi
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  url) shift; url "$1" "${2:-54329}" ;;
  free-port) free_port ;;
  *) echo "usage: $0 start DATADIR [PORT] | stop DATADIR | url DATADIR [PORT] | free-port" >&2; exit 2 ;;
esac
