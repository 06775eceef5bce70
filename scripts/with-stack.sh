#!/usr/bin/env bash
# Runs a command against a fresh stack for the web e2e tests and benchmarks
# (web/e2e/harness.js): a new PostgreSQL cluster on a free port
# (scripts/lib/stack.sh), the local KMS, the debug key server built, users
# alice and mallory with tokens. The key server itself is started (and
# stopped, to test an unreachable server) by the harness, from these
# variables: PQFILE_KEYSERVER_BIN, PQFILE_DATABASE_URL (runtime role),
# PQFILE_OWNER_DATABASE_URL (owner), PQFILE_DATA_DIR,
# PQFILE_WEB_DIR, PQFILE_POOL_SIZE, PQFILE_KMS, PQFILE_BIND, WEB_E2E_PORT,
# WEB_E2E_WORK, WEB_E2E_TOKEN_ALICE, WEB_E2E_TOKEN_MALLORY, WEB_E2E_PSQL_URL.
# Everything is removed on exit.
#
#   scripts/with-stack.sh COMMAND [ARGS...]
#   e.g. scripts/with-stack.sh node web/bench/repro-sw.js
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
source scripts/lib/stack.sh
stack_trap
stack_workdir web-e2e
stack_pg "$STACK_WORK/pg"
stack_keyserver_build
stack_db_env
export WEB_E2E_PSQL_URL=$STACK_DB_URL
export PQFILE_DATA_DIR=$STACK_WORK/data PQFILE_POOL_SIZE=5 PQFILE_KMS=local PQFILE_LOG_FORMAT=pretty
export PQFILE_WEB_DIR=$ROOT/web
export WEB_E2E_PORT=$(stack_free_port)
export PQFILE_BIND=127.0.0.1:$WEB_E2E_PORT
export PQFILE_KEYSERVER_BIN=$STACK_KS WEB_E2E_WORK=$STACK_WORK
"$STACK_KS" migrate >/dev/null 2>&1
WEB_E2E_TOKEN_ALICE=$(stack_user alice 2>/dev/null)
WEB_E2E_TOKEN_MALLORY=$(stack_user mallory 2>/dev/null)
export WEB_E2E_TOKEN_ALICE WEB_E2E_TOKEN_MALLORY
"$@"
