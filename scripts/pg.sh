#!/usr/bin/env bash
# Starts and stops a PostgreSQL 15 cluster for pqfile from the command line
# (the functions live in scripts/lib/stack.sh), as the `postgres` user when
# run as root (PostgreSQL refuses to run as root).
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
source "$(dirname "$0")/lib/stack.sh"
case "${1:-}" in
  start) shift; pg_start "$@" ;;
  stop) shift; pg_stop "$@" ;;
  url) stack_pg_url "${3:-54329}" ;;
  free-port) stack_free_port ;;
  *) echo "usage: $0 start DATADIR [PORT] | stop DATADIR | url DATADIR [PORT] | free-port" >&2; exit 2 ;;
esac
