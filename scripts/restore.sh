#!/usr/bin/env bash
# Restores a backup made by scripts/backup.sh into an EMPTY database
# (docs/OPERATIONS.md):
#
#   scripts/restore.sh IN_DIR [--database-only | --keys-only]
#
# Creates the key server's roles (scripts/sql/runtime-roles.sql: needs a
# role with CREATEROLE), restores the dump as the owner
# (PQFILE_OWNER_DATABASE_URL, else PQFILE_DATABASE_URL), then, unless
# --database-only, the local KMS master key (to PQFILE_KMS_MASTER_KEY or
# PQFILE_DATA_DIR/kms-master.key; never over another key; passphrase from
# PQFILE_BACKUP_PASSPHRASE or PQFILE_BACKUP_PASSPHRASE_FILE) and the stored
# ciphertexts. --keys-only restores only the master key and the stored
# ciphertexts (after a --database-only run). Checks the MANIFEST's sums first.
set -euo pipefail
IN=${1:?usage: scripts/restore.sh IN_DIR [--database-only | --keys-only]}
ONLY=${2:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${PQFILE_KEYSERVER_BIN:-$ROOT/target/release/pqfile-keyserver}
DB=${PQFILE_OWNER_DATABASE_URL:-${PQFILE_DATABASE_URL:?restore: set PQFILE_OWNER_DATABASE_URL}}
(cd "$IN" && tail -n +4 MANIFEST | sha256sum --check --quiet) || { echo "restore: $IN does not match its MANIFEST" >&2; exit 1; }
if [ "$ONLY" != --keys-only ]; then
  tables=$(psql "$DB" -tAc "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
  [ "$tables" = 0 ] || { echo "restore: the target database is not empty ($tables tables)" >&2; exit 1; }
  psql "$DB" -v ON_ERROR_STOP=1 -q -f "$ROOT/scripts/sql/runtime-roles.sql"
  pg_restore --exit-on-error --no-owner --dbname="$DB" "$IN/database.dump"
  echo "database restored"
fi
[ "$ONLY" = --database-only ] && exit 0
if [ -f "$IN/master-key.sealed" ]; then
  [ -x "$BIN" ] || { echo "restore: no key server binary at $BIN" >&2; exit 1; }
  args=()
  [ -n "${PQFILE_BACKUP_PASSPHRASE_FILE:-}" ] && args=(--passphrase-file "$PQFILE_BACKUP_PASSPHRASE_FILE")
  "$BIN" kms import-master-key --in "$IN/master-key.sealed" "${args[@]}"
fi
if [ -f "$IN/content.tar" ]; then
  CONTENT=${PQFILE_CONTENT_DIR:-${PQFILE_DATA_DIR:-.pqfile}/content}
  mkdir -p "$CONTENT"; chmod 700 "$CONTENT"
  tar -C "$CONTENT" -xf "$IN/content.tar"
  echo "stored ciphertexts restored to $CONTENT"
fi
