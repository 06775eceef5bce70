#!/usr/bin/env bash
# Backs up a pqfile deployment into a new folder (docs/OPERATIONS.md):
#
#   scripts/backup.sh OUT_DIR
#
#   OUT_DIR/database.dump      pg_dump --format=custom of the whole database,
#                              as the owner: one consistent snapshot
#   OUT_DIR/master-key.sealed  the local KMS master key, encrypted to a
#                              passphrase (argon2id + AES-256-GCM); kms=local only
#   OUT_DIR/content.tar        the stored ciphertexts (already encrypted)
#   OUT_DIR/MANIFEST           what is in it, with SHA-256 sums
#
# Reads the key server's own configuration (PQFILE_* variables or
# PQFILE_CONFIG): PQFILE_OWNER_DATABASE_URL (else PQFILE_DATABASE_URL),
# PQFILE_KMS, PQFILE_KMS_MASTER_KEY / PQFILE_DATA_DIR, PQFILE_CONTENT_DIR.
# The passphrase comes from PQFILE_BACKUP_PASSPHRASE or
# PQFILE_BACKUP_PASSPHRASE_FILE, never from the command line. Store the
# sealed master key apart from the database dump: either alone decrypts
# nothing, both together decrypt everything.
set -euo pipefail
OUT=${1:?usage: scripts/backup.sh OUT_DIR}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${PQFILE_KEYSERVER_BIN:-$ROOT/target/release/pqfile-keyserver}
[ -x "$BIN" ] || { echo "backup: no key server binary at $BIN (cargo build --release -p pqfile-keyserver, or set PQFILE_KEYSERVER_BIN)" >&2; exit 1; }
DB=${PQFILE_OWNER_DATABASE_URL:-${PQFILE_DATABASE_URL:?backup: set PQFILE_OWNER_DATABASE_URL}}
[ -e "$OUT" ] && { echo "backup: $OUT already exists" >&2; exit 1; }
mkdir -p "$OUT"; chmod 700 "$OUT"

pg_dump --format=custom --file="$OUT/database.dump" "$DB"
if [ "${PQFILE_KMS:-local}" = local ]; then
  args=()
  [ -n "${PQFILE_BACKUP_PASSPHRASE_FILE:-}" ] && args=(--passphrase-file "$PQFILE_BACKUP_PASSPHRASE_FILE")
  "$BIN" kms export-master-key --out "$OUT/master-key.sealed" "${args[@]}"
fi
CONTENT=${PQFILE_CONTENT_DIR:-${PQFILE_DATA_DIR:-.pqfile}/content}
if [ -d "$CONTENT" ]; then tar -C "$CONTENT" -cf "$OUT/content.tar" .; fi
{
  echo "pqfile backup, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "database: $(pg_dump --version | head -1), custom format"
  echo "kms: ${PQFILE_KMS:-local}"
  (cd "$OUT" && sha256sum database.dump $(ls master-key.sealed content.tar 2>/dev/null))
} > "$OUT/MANIFEST"
echo "backup written to $OUT"
