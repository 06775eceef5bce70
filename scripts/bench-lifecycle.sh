#!/usr/bin/env bash
# Key-lifecycle benchmark (issue 5): rewrap of a 1 GiB file's header vs
# decrypt + re-encrypt of the same file, and rotation of a 100-key pool with
# 10,000 documents (time and SQL statements counted by pg_stat_statements).
#
#   scripts/bench-lifecycle.sh            # BENCH_FILE_MIB=1024 BENCH_KEYS=100 BENCH_DOCS=10000
#
# Starts a throwaway PostgreSQL (pg_stat_statements preloaded) through
# scripts/lib/stack.sh, runs the release build of
# keyserver/examples/bench_lifecycle.rs (the key server runs in-process, local
# KMS), prints Markdown tables and removes everything.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[bench-lifecycle] %s\n' "$*" >&2; }

source scripts/lib/stack.sh
stack_trap
stack_workdir bench-lc
WORK=$STACK_WORK
PQFILE_PG_OPTS="-c shared_preload_libraries=pg_stat_statements" stack_pg "$WORK/pg"
export PQFILE_BENCH_PG="postgres://postgres@127.0.0.1:$STACK_PG_PORT"

log "building (release)"
cargo build -q --release -p pqfile-keyserver --example bench_lifecycle
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
log "running: file ${BENCH_FILE_MIB:-1024} MiB, ${BENCH_KEYS:-100} keys, ${BENCH_DOCS:-10000} documents"
RUST_LOG=${RUST_LOG:-warn} TMPDIR=$WORK "$TARGET/release/examples/bench_lifecycle"
