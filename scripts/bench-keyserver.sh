#!/usr/bin/env bash
# Key-server load benchmark (issue 4): wrk against the release key server and
# pgbench running the same SQL, same connection count, alternately, in one run.
#
#   scripts/bench-keyserver.sh [SECONDS_PER_RUN=10] [ROUNDS=3] [CONNECTIONS=32]
#
# BENCH_BIN=path runs another key-server build (e.g. an older revision built
# into a second target dir) for side-by-side comparisons. BENCH_PARTS=1
# instead runs pgbench alone over keyserver/benches/wrk/unwrap-parts/*.sql
# (the unwrap SQL with and without each issue 11 part), ROUNDS rounds
# alternating the variants. BENCH_TLS=1 puts both sides on TLS: PostgreSQL
# TLS-only (verify-full for the key server, PGSSLMODE=verify-full for
# pgbench) and the key server on HTTPS (wrk speaks TLS 1.3 to it).
#
# Starts a throwaway PostgreSQL and the key server (local KMS, pool of 100)
# through scripts/lib/stack.sh, and stops both on exit. Prints a Markdown
# table for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DUR=${1:-10}; ROUNDS=${2:-3}; CONNS=${3:-32}
log() { printf '[bench-keyserver] %s\n' "$*" >&2; }
command -v wrk >/dev/null || { log "wrk missing (scripts/setup.sh installs it)"; exit 1; }
command -v pgbench >/dev/null || { log "pgbench missing (ships with PostgreSQL)"; exit 1; }

source scripts/lib/stack.sh
stack_trap
stack_workdir bench
WORK=$STACK_WORK
if [ "${BENCH_TLS:-}" = 1 ]; then
  STACK_PG_TLS=1 stack_pg "$WORK/pg"
  export PGSSLMODE=verify-full PGSSLROOTCERT=$STACK_PG_CA
  stack_test_certs "$WORK/https"
  export PQFILE_TLS_CERT_FILE=$WORK/https/server.crt PQFILE_TLS_KEY_FILE=$WORK/https/server.key
  export STACK_KS_CA=$WORK/https/ca.crt PQFILE_BENCH_CA=$WORK/https/ca.crt
else
  stack_pg "$WORK/pg"
fi
PGPORT=$STACK_PG_PORT DB_URL=$STACK_DB_URL
log "building (release server, dev-profile client helper)"
stack_keyserver_build release
cargo build -q -p pqfile-keyserver --example unwrap_body
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
STACK_KS=${BENCH_BIN:-$STACK_KS}  # BENCH_BIN: compare another build
BIN=$STACK_KS

stack_db_env
export PQFILE_DATA_DIR=$WORK/state PQFILE_KMS=local
export PQFILE_POOL_SIZE=100 PQFILE_DB_POOL_MAX=${PQFILE_DB_POOL_MAX:-$CONNS} PQFILE_WEB_DIR=/nonexistent
# One token at thousands of requests a second: the rate limits would be the
# measurement.
export PQFILE_RATE_LIMIT_PER_ADDRESS=0 PQFILE_RATE_LIMIT_PER_TOKEN=0
export PQFILE_BIND=127.0.0.1:$(stack_free_port)
TOKEN=$(stack_user bench)
RUST_LOG=warn stack_keyserver_start "$WORK/server.log"
URL=http://$PQFILE_BIND
# wrk does not check certificates; the address is in the test certificate.
if [ "${BENCH_TLS:-}" = 1 ]; then URL=https://$PQFILE_BIND; fi

DOC=$("$TARGET/debug/examples/unwrap_body" "$URL" "$TOKEN" "$WORK/unwrap.json")
HASH=$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)
UID_=$(psql "$DB_URL" -tAc "SELECT id FROM users WHERE name = 'bench'")
KID=$(psql "$DB_URL" -tAc "SELECT key_id FROM documents WHERE id = '$DOC'")
export PQFILE_BENCH_TOKEN=$TOKEN PQFILE_BENCH_BODY=$WORK/unwrap.json
log "server on $URL, document $DOC (key $KID); $ROUNDS rounds of ${DUR}s, $CONNS connections"

run_wrk() { # lua path -> "rps p50 p99" (ms)
  local out
  out=$(wrk -t2 -c"$CONNS" -d"${DUR}s" --latency -s "keyserver/benches/wrk/$1.lua" "$URL$2")
  if grep -q "Non-2xx" <<<"$out"; then log "wrk saw errors:"; echo "$out" >&2; exit 1; fi
  local rps p50 p99
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  echo "$rps $p50 $p99"
}
run_pgbench() { # sql file -> "tps avg_latency_ms"
  local out
  out=$(pgbench -n -M prepared -c "$CONNS" -j 2 -T "$DUR" -h 127.0.0.1 -p "$PGPORT" -U postgres \
        -D hash="$HASH" -D uid="$UID_" -D doc="$DOC" -D kid="$KID" -D seal="\\x$(printf 'ab%.0s' $(seq 48))" \
        -f "keyserver/benches/wrk/$1.sql" pqfile_db 2>&1)
  grep -q "number of failed transactions: 0" <<<"$out" || { log "pgbench failed:"; echo "$out" >&2; exit 1; }
  local tps lat
  tps=$(awk '/^tps = / {print $3}' <<<"$out")
  lat=$(awk '/^latency average/ {print $4}' <<<"$out")
  echo "$tps $lat"
}

# Warm-up (connections, caches, the key cache).
wrk -t2 -c"$CONNS" -d2s -s keyserver/benches/wrk/acquire.lua "$URL/v1/documents" >/dev/null
wrk -t2 -c"$CONNS" -d2s -s keyserver/benches/wrk/unwrap.lua "$URL/v1/documents/$DOC/unwrap" >/dev/null

if [ "${BENCH_PARTS:-}" = 1 ]; then
  # pgbench alone: the server's sealer would otherwise examine every
  # (unsealed) pgbench row during the runs.
  kill -TERM "$STACK_KS_PID"; wait "$STACK_KS_PID" 2>/dev/null || true
  # v6 writes to an unpartitioned twin of access_logs.
  psql "$DB_URL" -qc "CREATE TABLE access_logs_flat (LIKE access_logs INCLUDING ALL)"
  SEAL="\\x$(printf 'ab%.0s' $(seq 48))"
  echo "| round | variant | pgbench tps |"
  echo "|---|---|---:|"
  for r in $(seq 1 "$ROUNDS"); do
    for f in keyserver/benches/wrk/unwrap-parts/*.sql; do
      out=$(pgbench -n -M prepared -c "$CONNS" -j 2 -T "$DUR" -h 127.0.0.1 -p "$PGPORT" -U postgres \
            -D hash="$HASH" -D uid="$UID_" -D doc="$DOC" -D kid="$KID" -D seal="$SEAL" -f "$f" pqfile_db 2>&1)
      grep -q "number of failed transactions: 0" <<<"$out" || { log "pgbench failed on $f:"; echo "$out" >&2; exit 1; }
      echo "| $r | $(basename "$f" .sql) | $(awk '/^tps = / {print $3}' <<<"$out") |"
    done
  done
  exit 0
fi
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", a / b }'; }
sum() { printf '%s\n' "$@" | awk '{ s += $1 } END { printf "%.4f", s }'; }
declare -a A_WRK A_PG U_WRK U_PG
echo "| round | workload | key server req/s | p50 | p99 | pgbench tps (same SQL) | pgbench avg latency | ratio |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
for r in $(seq 1 "$ROUNDS"); do
  read -r w50 w_p50 w_p99 <<<"$(run_wrk acquire /v1/documents)"
  read -r p50 p_lat <<<"$(run_pgbench acquire)"
  printf '| %s | key acquisition | %s | %s | %s | %s | %s ms | %.2f |\n' "$r" "$w50" "$w_p50" "$w_p99" "$p50" "$p_lat" "$(div "$w50" "$p50")"
  A_WRK+=("$w50"); A_PG+=("$p50")
  read -r u50 u_p50 u_p99 <<<"$(run_wrk unwrap "/v1/documents/$DOC/unwrap")"
  read -r q50 q_lat <<<"$(run_pgbench unwrap)"
  printf '| %s | unwrap | %s | %s | %s | %s | %s ms | %.2f |\n' "$r" "$u50" "$u_p50" "$u_p99" "$q50" "$q_lat" "$(div "$u50" "$q50")"
  U_WRK+=("$u50"); U_PG+=("$q50")
done
printf '\nTotals over %s rounds: key acquisition %.2f x pgbench, unwrap %.2f x pgbench\n' "$ROUNDS" \
  "$(div "$(sum "${A_WRK[@]}")" "$(sum "${A_PG[@]}")")" \
  "$(div "$(sum "${U_WRK[@]}")" "$(sum "${U_PG[@]}")")"
docs=$(psql "$DB_URL" -tAc "SELECT count(*) FROM documents")
log "documents registered during the run: $docs; server log: $(wc -l <"$WORK/server.log") lines"
