#!/usr/bin/env bash
# The backup and restore drill (issue 11, docs/OPERATIONS.md), against real
# PostgreSQL clusters: encrypt files through a running key server, back up
# (scripts/backup.sh), destroy the cluster, the data folder and the master
# key, restore into a fresh cluster (scripts/restore.sh) and decrypt every
# old file; `audit verify` still passes. On the way, a database restored
# without the master key decrypts nothing: the server refuses to start.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
log() { printf '\033[1;36m[45-drill]\033[0m %s\n' "$*"; }
fail() { log "FAILED: $*"; exit 1; }
cargo build -q -p pqfile-cli
source scripts/lib/stack.sh
stack_trap
stack_workdir drill
W=$STACK_WORK
stack_keyserver_build
export PQFILE_KEYSERVER_BIN=$STACK_KS
CLI=${CARGO_TARGET_DIR:-$ROOT/target}/debug/pqfile
export PQFILE_KMS=local PQFILE_POOL_SIZE=5 PQFILE_WEB_DIR=/nonexistent PQFILE_LOG_FORMAT=pretty
export PQFILE_AUDIT_CHECKPOINT_INTERVAL_MS=200
# The master key apart from the data folder, as the docs ask.
export PQFILE_DATA_DIR=$W/data PQFILE_KMS_MASTER_KEY=$W/keys/kms-master.key
export PQFILE_BACKUP_PASSPHRASE='correct horse battery staple'

log "1. a deployment with documents"
stack_pg "$W/pg-a"
stack_db_env
export PQFILE_BIND=127.0.0.1:$(stack_free_port)
TOKEN=$(stack_user alice)
stack_keyserver_start "$W/server-a.log"
export PQFILE_SERVER=$STACK_URL PQFILE_TOKEN=$TOKEN
mkdir -p "$W/files"
for i in 1 2 3; do
  head -c $((100000 * i + 7)) /dev/urandom > "$W/files/doc$i.bin"
  "$CLI" encrypt -q "$W/files/doc$i.bin" -o "$W/files/doc$i.pqf"
done
"$CLI" upload "$W/files/doc3.pqf" >/dev/null
"$CLI" decrypt -q "$W/files/doc1.pqf" -o "$W/files/check.bin"
cmp -s "$W/files/doc1.bin" "$W/files/check.bin" || fail "round trip before the backup"
sleep 1  # a sealer pass and a signed checkpoint
"$STACK_KS" audit verify || fail "audit verify before the backup"

log "2. back up (database dump, sealed master key, stored ciphertexts)"
scripts/backup.sh "$W/backup"
cat "$W/backup/MANIFEST"
pg_restore -f "$W/dump.sql" "$W/backup/database.dump"
python3 - "$PQFILE_KMS_MASTER_KEY" "$W/dump.sql" "$W/backup/database.dump" <<'PY' || fail "the database dump holds the master key"
import sys
key = open(sys.argv[1], "rb").read()
for dump in sys.argv[2:]:
    data = open(dump, "rb").read()
    assert key not in data and key.hex().encode() not in data, dump
PY

log "3. disaster: the cluster, the data folder and the master key are gone"
kill "$STACK_KS_PID"; wait "$STACK_KS_PID" 2>/dev/null || true; STACK_KS_PID=
pg_stop "$W/pg-a"; rm -rf "$W/pg-a" "$W/data" "$W/keys"

log "4. the database alone recovers nothing"
stack_pg "$W/pg-b"
stack_db_env
scripts/restore.sh "$W/backup" --database-only
if "$STACK_KS" serve >"$W/server-b0.log" 2>&1; then fail "a server started without its master key"; fi
grep -q "master key .* is missing" "$W/server-b0.log" || { cat "$W/server-b0.log"; fail "the refusal does not name the missing master key"; }
[ ! -e "$PQFILE_KMS_MASTER_KEY" ] || fail "a new master key was created in place of the lost one"
log "   refused to start: $(grep -o 'the local KMS master key [^,]*' "$W/server-b0.log" | head -1)"

log "5. restore the master key and the stored ciphertexts, then decrypt every old file"
PQFILE_BACKUP_PASSPHRASE=wrong-passphrase-here "$STACK_KS" kms import-master-key --in "$W/backup/master-key.sealed" \
  && fail "a wrong passphrase opened the backup"
scripts/restore.sh "$W/backup" --keys-only
export PQFILE_BIND=127.0.0.1:$(stack_free_port)
stack_keyserver_start "$W/server-b.log"
export PQFILE_SERVER=$STACK_URL
for i in 1 2 3; do
  "$CLI" decrypt -q --force "$W/files/doc$i.pqf" -o "$W/files/out$i.bin"
  cmp -s "$W/files/doc$i.bin" "$W/files/out$i.bin" || fail "doc$i after the restore"
done
DOC3=$("$CLI" inspect --json "$W/files/doc3.pqf" | python3 -c 'import json,sys; print(json.load(sys.stdin)["document_id"])')
"$CLI" download "$DOC3" -o "$W/files/stored3.pqf"
"$CLI" decrypt -q "$W/files/stored3.pqf" -o "$W/files/stored3.bin"
cmp -s "$W/files/doc3.bin" "$W/files/stored3.bin" || fail "the stored ciphertext after the restore"
sleep 1
"$STACK_KS" audit verify || fail "audit verify after the restore"
log "drill passed: 3 files and 1 stored ciphertext decrypt after a restore into a fresh cluster; audit verify passes"
