#!/usr/bin/env bash
# pqfile-keyserver: unit tests and integration tests against a real
# PostgreSQL 15 (throwaway cluster, a fresh database per test) and a real
# KMS-API endpoint (moto server). Starts both itself (PostgreSQL through
# scripts/lib/stack.sh) and stops them on exit. Arguments, if any, filter the
# integration tests by name (for a quick run while working).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
log() { printf '\033[1;36m[40-keyserver]\033[0m %s\n' "$*"; }

MOTO="$ROOT/.venv/bin/moto_server"
if [ ! -x "$MOTO" ]; then
  log "moto not found; creating $ROOT/.venv"
  python3 -m venv "$ROOT/.venv"
  "$ROOT/.venv/bin/pip" install -q 'moto[server]==5.*'
fi

source scripts/lib/stack.sh
stack_trap
stack_workdir keyserver-test
# TLS-only cluster (issue 12): every connection of the tests and of the
# servers they start is verify-full against a CA made here; clear text is
# refused by pg_hba.conf.
STACK_PG_TLS=1 stack_pg "$STACK_WORK/pg"
export PQFILE_TEST_PG="postgres://postgres@127.0.0.1:$STACK_PG_PORT"
export PQFILE_TEST_PG_PARAMS="sslmode=verify-full&sslrootcert=$STACK_PG_CA"
export PQFILE_TEST_PG_OTHER_CA="${STACK_PG_CA%/*}/other-ca.crt"

MOTO_PORT=$(stack_free_port)
"$MOTO" -H 127.0.0.1 -p "$MOTO_PORT" >"$STACK_WORK/moto.log" 2>&1 </dev/null &
MOTO_PID=$!
stack_on_stop 'kill "$MOTO_PID" 2>/dev/null'

for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "http://127.0.0.1:$MOTO_PORT/moto-api/" 2>/dev/null && break
  sleep 0.1
done
curl -fsS -o /dev/null "http://127.0.0.1:$MOTO_PORT/moto-api/" || { log "moto did not start"; exit 1; }
export PQFILE_TEST_KMS_ENDPOINT="http://127.0.0.1:$MOTO_PORT"
# Static credentials for the emulator; no instance metadata lookups.
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
log "PostgreSQL on $STACK_PG_PORT, moto on $MOTO_PORT"

if [ $# -gt 0 ]; then
  # A narrower run while working: `40-keyserver.sh FILTER...` runs only the
  # integration tests whose names contain a FILTER.
  cargo test -p pqfile-keyserver --test api -- "$@"
  exit
fi
cargo test -p pqfile-keyserver --all-targets
cargo test -p pqfile-keyserver --doc
