#!/usr/bin/env bash
# pqfile CLI: offline tests, then end-to-end tests against a real key server
# (fresh PostgreSQL cluster + local KMS) started here and stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
cargo test -p pqfile-cli
cargo build -p pqfile-keyserver -p pqfile-cli

WORK=$(mktemp -d /var/tmp/pqfile-cli-test.XXXXXX)
chmod 755 "$WORK"
PORT=$(scripts/pg.sh free-port)
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  scripts/pg.sh stop "$WORK/pg" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
export PQFILE_DATABASE_URL=$(scripts/pg.sh start "$WORK/pg" "$PORT")
export PQFILE_DATA_DIR=$WORK/data PQFILE_POOL_SIZE=5 PQFILE_KMS=local PQFILE_LOG_FORMAT=pretty
HTTP_PORT=$(scripts/pg.sh free-port)
export PQFILE_BIND=127.0.0.1:$HTTP_PORT
KS=${CARGO_TARGET_DIR:-$ROOT/target}/debug/pqfile-keyserver
$KS user add alice >/dev/null
$KS user add mallory >/dev/null
$KS user add root --role admin >/dev/null
export PQFILE_TEST_TOKEN=$($KS token create alice | tail -1)
export PQFILE_TEST_OTHER_TOKEN=$($KS token create mallory | tail -1)
export PQFILE_TEST_ADMIN_TOKEN=$($KS token create root | tail -1)
$KS serve > "$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$HTTP_PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$HTTP_PORT/readyz" >/dev/null || { cat "$WORK/server.log"; exit 1; }
export PQFILE_TEST_SERVER=http://127.0.0.1:$HTTP_PORT
cargo test -p pqfile-cli --features online-tests --test online --test lifecycle || { tail -50 "$WORK/server.log"; exit 1; }

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
