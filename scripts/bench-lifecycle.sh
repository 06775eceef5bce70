#!/usr/bin/env bash
# Key-lifecycle benchmark (issue 5): rewrap of a 1 GiB file's header vs
# decrypt + re-encrypt of the same file, and rotation of a 100-key pool with
# 10,000 documents (time and SQL statements counted by pg_stat_statements).
#
#   scripts/bench-lifecycle.sh            # BENCH_FILE_MIB=1024 BENCH_KEYS=100 BENCH_DOCS=10000
#
# Starts a throwaway PostgreSQL (pg_stat_statements preloaded), runs the
# release build of keyserver/examples/bench_lifecycle.rs (the key server runs
# in-process, local KMS), prints Markdown tables and removes everything.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[bench-lifecycle] %s\n' "$*" >&2; }
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

WORK=$(mktemp -d /var/tmp/pqfile-bench-lc.XXXXXX)
PGDIR=$WORK/pg
cleanup() {
  scripts/pg.sh stop "$PGDIR" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
chmod 711 "$WORK"
mkdir -p "$PGDIR"
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" -eq 0 ] && chown postgres: "$PGDIR"
chmod 700 "$PGDIR"
as_pg "$PGBIN/initdb" -D "$PGDIR" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
echo "shared_preload_libraries = 'pg_stat_statements'" | as_pg tee -a "$PGDIR/postgresql.conf" >/dev/null
PGPORT=$(scripts/pg.sh free-port)
scripts/pg.sh start "$PGDIR" "$PGPORT" >/dev/null
export PQFILE_BENCH_PG="postgres://postgres@127.0.0.1:$PGPORT"

log "building (release)"
cargo build -q --release -p pqfile-keyserver --example bench_lifecycle
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
log "running: file ${BENCH_FILE_MIB:-1024} MiB, ${BENCH_KEYS:-100} keys, ${BENCH_DOCS:-10000} documents"
RUST_LOG=${RUST_LOG:-warn} TMPDIR=$WORK "$TARGET/release/examples/bench_lifecycle"
