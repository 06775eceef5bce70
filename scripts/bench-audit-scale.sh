#!/usr/bin/env bash
# The audit log at scale (issue 11): unwrap throughput of the release key
# server with an empty audit log and with ROWS rows of history (sealed,
# chained and signed, spread over 13 monthly partitions), side by side: two
# databases in one PostgreSQL cluster, one key server on each, wrk
# alternating between them round by round. Then the time one year's
# retention takes on the full one (it drops the months older than a year),
# and, with BENCH_VERIFY=1, the time `audit verify` takes after it.
#
#   scripts/bench-audit-scale.sh [ROWS=20000000] [SECONDS_PER_RUN=10] [ROUNDS=3] [CONNECTIONS=32]
#
# Needs ~12 GB of disk for 20 M rows (in /var/tmp). Prints Markdown for
# BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ROWS=${1:-20000000}; DUR=${2:-10}; ROUNDS=${3:-3}; CONNS=${4:-32}
log() { printf '[bench-audit-scale] %s\n' "$*" >&2; }
command -v wrk >/dev/null || { log "wrk missing (scripts/setup.sh installs it)"; exit 1; }

source scripts/lib/stack.sh
stack_trap
stack_workdir audit-scale
WORK=$STACK_WORK
stack_pg "$WORK/pg"
PGPORT=$STACK_PG_PORT
log "building (release server and fill helper, dev-profile client helper)"
stack_keyserver_build release
cargo build -q --release -p pqfile-keyserver --example fill_audit
cargo build -q -p pqfile-keyserver --example unwrap_body
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
psql "$STACK_DB_URL" -qc "CREATE DATABASE pqfile_big" >/dev/null

export PQFILE_KMS=local PQFILE_POOL_SIZE=100 PQFILE_DB_POOL_MAX=$CONNS PQFILE_WEB_DIR=/nonexistent
# wrk from one address with one token: no rate limits in the measurement.
export PQFILE_RATE_LIMIT_PER_ADDRESS=0 PQFILE_RATE_LIMIT_PER_TOKEN=0
use_db() { # small|big: the environment of that database's server
  local db=pqfile_db
  [ "$1" = big ] && db=pqfile_big
  export PQFILE_DATABASE_URL=postgres://pqfile_app@127.0.0.1:$PGPORT/$db
  export PQFILE_OWNER_DATABASE_URL=postgres://postgres@127.0.0.1:$PGPORT/$db
  export PQFILE_DATA_DIR=$WORK/state-$1
}

use_db big
"$STACK_KS" migrate
started=$(date +%s.%N)
"$TARGET/release/examples/fill_audit" "$ROWS" 13
filled=$(date +%s.%N)
log "filled $ROWS rows in $(awk -v a="$started" -v b="$filled" 'BEGIN { printf "%.0f", b - a }') s"
# Settle the cluster before measuring: the background vacuum of a freshly
# filled table would otherwise run during the rounds of one side only.
psql "$PQFILE_OWNER_DATABASE_URL" -qc "VACUUM (ANALYZE) access_logs, audit_chain" -c "CHECKPOINT" >/dev/null
log "vacuumed in $(awk -v a="$filled" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }') s"

declare -A URL TOKEN DOC ADMIN PID
for s in small big; do
  use_db "$s"
  TOKEN[$s]=$(stack_user "bench-$s")
  ADMIN[$s]=$(stack_user "admin-$s" admin)
  export PQFILE_BIND=127.0.0.1:$(stack_free_port)
  RUST_LOG=warn stack_keyserver_start "$WORK/server-$s.log"
  PID[$s]=$STACK_KS_PID
  stack_on_stop "kill ${PID[$s]} 2>/dev/null"
  URL[$s]=$STACK_URL
  DOC[$s]=$("$TARGET/debug/examples/unwrap_body" "${URL[$s]}" "${TOKEN[$s]}" "$WORK/unwrap-$s.json")
done
rows_in() { psql "postgres://postgres@127.0.0.1:$PGPORT/$1" -tAc "SELECT count(*) FROM access_logs"; }
log "audit rows: small $(rows_in pqfile_db), big $(rows_in pqfile_big)"

run_wrk() { # small|big -> req/s
  local out
  out=$(PQFILE_BENCH_TOKEN=${TOKEN[$1]} PQFILE_BENCH_BODY=$WORK/unwrap-$1.json \
        wrk -t2 -c"$CONNS" -d"${2:-$DUR}s" --latency -s keyserver/benches/wrk/unwrap.lua \
        "${URL[$1]}/v1/documents/${DOC[$1]}/unwrap")
  if grep -q "Non-2xx" <<<"$out"; then log "wrk saw errors:"; echo "$out" >&2; exit 1; fi
  awk '/^Requests\/sec/ {print $2}' <<<"$out"
}
run_wrk small 3 >/dev/null; run_wrk big 3 >/dev/null

echo "| round | unwrap req/s, empty audit log | unwrap req/s, $ROWS rows | ratio |"
echo "|---|---:|---:|---:|"
S=(); B=()
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) -eq 1 ]; then s=$(run_wrk small); b=$(run_wrk big); else b=$(run_wrk big); s=$(run_wrk small); fi
  S+=("$s"); B+=("$b")
  printf '| %s | %s | %s | %.2f |\n' "$r" "$s" "$b" "$(awk -v a="$b" -v b="$s" 'BEGIN { print a / b }')"
done
sum() { printf '%s\n' "$@" | awk '{ s += $1 } END { printf "%.1f", s }'; }
printf '\nTotals over %s rounds: with %s rows %.2f x the empty log\n' "$ROUNDS" "$ROWS" \
  "$(awk -v a="$(sum "${B[@]}")" -v b="$(sum "${S[@]}")" 'BEGIN { print a / b }')"

log "one year's retention on the full log"
before=$(rows_in pqfile_big)
t0=$(date +%s.%N)
answer=$(curl -fsS -X POST -H "Authorization: Bearer ${ADMIN[big]}" -H 'Content-Type: application/json' \
  -d '{"older_than_days": 365}' "${URL[big]}/v1/admin/access-logs/retention")
t1=$(date +%s.%N)
printf '\nRetention of 365 days on %s rows: %s s; answer %s; rows after: %s\n' "$before" \
  "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')" "$answer" "$(rows_in pqfile_big)"

if [ "${BENCH_VERIFY:-}" = 1 ]; then
  use_db big
  t0=$(date +%s.%N)
  verdict=$("$STACK_KS" audit verify 2>/dev/null | tail -1 || true)
  t1=$(date +%s.%N)
  printf 'audit verify after it: %s s: %s\n' "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }')" "$verdict"
fi
