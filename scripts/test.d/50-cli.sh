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

# HTTPS (issue 12): the same server restarted on an HTTPS listener with a
# certificate from a CA made here; the CLI (--ca-cert) and the npm package
# in Node (NODE_EXTRA_CA_CERTS) round-trip through it, and each refuses the
# server when it does not trust that CA.
stack_test_certs "$WORK/https"
stack_keyserver_stop
export PQFILE_TLS_CERT_FILE=$WORK/https/server.crt PQFILE_TLS_KEY_FILE=$WORK/https/server.key
STACK_KS_CA=$WORK/https/ca.crt stack_keyserver_start "$WORK/server-https.log"
case "$STACK_URL" in https://*) ;; *) echo "not an HTTPS URL: $STACK_URL"; exit 1 ;; esac
curl -fsS --cacert "$WORK/https/ca.crt" -D "$WORK/https/headers" -o /dev/null "$STACK_URL/healthz"
grep -qi '^strict-transport-security: max-age=31536000' "$WORK/https/headers"
cli_https() { PQFILE_SERVER=$STACK_URL PQFILE_TOKEN=$PQFILE_TEST_TOKEN "$CLI" "$@"; }
cli_https encrypt -q --ca-cert "$WORK/https/ca.crt" "$WORK/plain.bin" -o "$WORK/https-cli.pqf"
cli_https decrypt -q --ca-cert "$WORK/https/ca.crt" "$WORK/https-cli.pqf" -o "$WORK/https-cli.bin"
cmp "$WORK/plain.bin" "$WORK/https-cli.bin"
echo "CLI over HTTPS: OK"
if cli_https decrypt -q "$WORK/https-cli.pqf" -o "$WORK/untrusted.bin" 2>"$WORK/https/cli-untrusted.err"; then
  echo "the CLI trusted a certificate from an unknown CA"; exit 1
fi
grep -q 'server_unreachable' "$WORK/https/cli-untrusted.err"
grep -q -- '--ca-cert' "$WORK/https/cli-untrusted.err"
[ ! -e "$WORK/untrusted.bin" ]
cat "$WORK/https/cli-untrusted.err"
PQFILE_TEST_SERVER=$STACK_URL NODE_EXTRA_CA_CERTS=$WORK/https/ca.crt \
  node cli/tests/compat/npm-client.mjs encrypt "$WORK/plain.bin" "$WORK/https-npm.pqf"
PQFILE_TEST_SERVER=$STACK_URL NODE_EXTRA_CA_CERTS=$WORK/https/ca.crt \
  node cli/tests/compat/npm-client.mjs decrypt "$WORK/https-cli.pqf" "$WORK/https-npm.bin"
cmp "$WORK/plain.bin" "$WORK/https-npm.bin"
cli_https decrypt -q --ca-cert "$WORK/https/ca.crt" "$WORK/https-npm.pqf" -o "$WORK/https-npm-cli.bin"
cmp "$WORK/plain.bin" "$WORK/https-npm-cli.bin"
echo "npm package (Node) over HTTPS, both ways with the CLI: OK"
if PQFILE_TEST_SERVER=$STACK_URL node cli/tests/compat/npm-client.mjs decrypt "$WORK/https-cli.pqf" "$WORK/untrusted-npm.bin" 2>"$WORK/https/npm-untrusted.err"; then
  echo "Node trusted a certificate from an unknown CA"; exit 1
fi
grep -Eq 'certificate|UNABLE_TO|self.signed|unable to verify' "$WORK/https/npm-untrusted.err"
echo "untrusted CA refused by the CLI and by Node: OK"
