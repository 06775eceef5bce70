#!/usr/bin/env bash
# Runs a command against a fresh key-server stack: a new PostgreSQL cluster
# (scripts/pg.sh) on a free port, the local KMS, users alice and mallory with
# tokens. The key server itself is started (and stopped, to test an
# unreachable server) by the Node harness (harness.js) from these variables:
#   PQFILE_KEYSERVER_BIN, PQFILE_DATABASE_URL, PQFILE_DATA_DIR, PQFILE_WEB_DIR,
#   PQFILE_POOL_SIZE, PQFILE_KMS, PQFILE_BIND, WEB_E2E_PORT, WEB_E2E_WORK,
#   WEB_E2E_TOKEN_ALICE, WEB_E2E_TOKEN_MALLORY, WEB_E2E_PSQL_URL.
# Everything is removed on exit. Usage: with-stack.sh COMMAND [ARGS...]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
KS=${CARGO_TARGET_DIR:-$ROOT/target}/debug/pqfile-keyserver
[ -x "$KS" ] || { echo "missing $KS: cargo build -p pqfile-keyserver" >&2; exit 1; }

WORK=$(mktemp -d /var/tmp/pqfile-web-e2e.XXXXXX)
chmod 755 "$WORK"
cleanup() {
  scripts/pg.sh stop "$WORK/pg" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
PG_PORT=$(scripts/pg.sh free-port)
export PQFILE_DATABASE_URL=$(scripts/pg.sh start "$WORK/pg" "$PG_PORT")
export PQFILE_DATA_DIR=$WORK/data PQFILE_POOL_SIZE=5 PQFILE_KMS=local PQFILE_LOG_FORMAT=pretty
export PQFILE_WEB_DIR=$ROOT/web
export WEB_E2E_PORT=$(scripts/pg.sh free-port)
export PQFILE_BIND=127.0.0.1:$WEB_E2E_PORT
export PQFILE_KEYSERVER_BIN=$KS WEB_E2E_WORK=$WORK WEB_E2E_PSQL_URL=$PQFILE_DATABASE_URL
"$KS" migrate >/dev/null 2>&1
"$KS" user add alice >/dev/null 2>&1
"$KS" user add mallory >/dev/null 2>&1
export WEB_E2E_TOKEN_ALICE=$("$KS" token create alice 2>/dev/null | tail -1)
export WEB_E2E_TOKEN_MALLORY=$("$KS" token create mallory 2>/dev/null | tail -1)
"$@"
