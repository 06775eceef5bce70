#!/usr/bin/env bash
# pqfile CLI: offline tests, then end-to-end tests against a real key server
# (fresh PostgreSQL cluster + local KMS) started here through
# scripts/lib/stack.sh and stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
cargo test -p pqfile-cli
cargo build -p pqfile-cli

source scripts/lib/stack.sh
stack_trap
stack_workdir cli-test
WORK=$STACK_WORK
stack_pg "$WORK/pg"
stack_keyserver_build
stack_db_env
export PQFILE_DATA_DIR=$WORK/data PQFILE_POOL_SIZE=5 PQFILE_KMS=local PQFILE_LOG_FORMAT=pretty
export PQFILE_BIND=127.0.0.1:$(stack_free_port)
PQFILE_TEST_TOKEN=$(stack_user alice)
PQFILE_TEST_OTHER_TOKEN=$(stack_user mallory)
PQFILE_TEST_ADMIN_TOKEN=$(stack_user root admin)
export PQFILE_TEST_TOKEN PQFILE_TEST_OTHER_TOKEN PQFILE_TEST_ADMIN_TOKEN
stack_keyserver_start "$WORK/server.log"
export PQFILE_TEST_SERVER=$STACK_URL PQFILE_TEST_DATABASE_URL=$STACK_DB_URL
cargo test -p pqfile-cli --features online-tests --test online --test lifecycle --test retiring_key || { tail -50 "$WORK/server.log"; exit 1; }

# The CLI and the npm package (Node) read each other's files.
if [ ! -f wasm/js/dist/node/pqfile_wasm.js ]; then
  (cd wasm/js && npm ci --no-audit --no-fund && bash scripts/build.sh)
fi
CLI=${CARGO_TARGET_DIR:-$ROOT/target}/debug/pqfile
head -c 3000000 /dev/urandom > "$WORK/plain.bin"
node cli/tests/compat/npm-client.mjs encrypt "$WORK/plain.bin" "$WORK/by-npm.pqf"
PQFILE_SERVER=$PQFILE_TEST_SERVER PQFILE_TOKEN=$PQFILE_TEST_TOKEN "$CLI" decrypt -q "$WORK/by-npm.pqf" -o "$WORK/npm-to-cli.bin"
cmp "$WORK/plain.bin" "$WORK/npm-to-cli.bin"
echo "npm package -> CLI: OK"
PQFILE_SERVER=$PQFILE_TEST_SERVER PQFILE_TOKEN=$PQFILE_TEST_TOKEN "$CLI" encrypt -q "$WORK/plain.bin" -o "$WORK/by-cli.pqf"
node cli/tests/compat/npm-client.mjs decrypt "$WORK/by-cli.pqf" "$WORK/cli-to-npm.bin"
cmp "$WORK/plain.bin" "$WORK/cli-to-npm.bin"
echo "CLI -> npm package: OK"
