#!/usr/bin/env bash
# THE RUN COMMAND. On a fresh Debian 12 machine: installs what is missing,
# starts a persistent PostgreSQL cluster in .pqfile/pg (so encrypted files
# stay decryptable across restarts), builds and starts the key server with the
# local KMS (master key in .pqfile-keys/, apart from the database: a copy of
# .pqfile alone decrypts nothing), applies migrations, fills the
# key pool, creates an admin and a demo user with API tokens on first run
# (.pqfile/*.token, mode 0600, reused afterwards), serves the API and web/ on
# 127.0.0.1:8080 and prints the URL to open. Ctrl-C stops the key server and
# PostgreSQL.
#
# Environment: PQFILE_BIND (default 127.0.0.1:8080), PQFILE_PG_PORT (54329),
# and any PQFILE_* setting of the key server (keyserver/README.md). The page
# is served over loopback HTTP (a secure context for the browser) unless
# PQFILE_TLS_CERT_FILE and PQFILE_TLS_KEY_FILE name a certificate: then
# HTTPS, at https://$PQFILE_TLS_HOST:PORT (default localhost; the name the
# certificate is for), trusting PQFILE_CA_CERT if it is from a private CA.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
STATE=$ROOT/.pqfile
log() { printf '\033[1;32m[run]\033[0m %s\n' "$*" >&2; }

scripts/setup.sh --run
export PATH="$HOME/.cargo/bin:$PATH"

mkdir -p "$STATE"
# Traversable (for the postgres user) but not listable by others; secrets inside are 0600.
chmod 711 "$STATE"

PGDATA=${PQFILE_PG_DIR:-$STATE/pg}
if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$STATE" 2>/dev/null; then
  # The checkout sits where the postgres user cannot reach (e.g. under /root).
  PGDATA=/var/lib/pqfile/$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)/pg
  mkdir -p "$(dirname "$PGDATA")"
  log "the postgres user cannot reach $STATE; keeping the cluster in $PGDATA"
fi
PGPORT=${PQFILE_PG_PORT:-54329}

source scripts/lib/stack.sh
stack_trap
stack_pg "$PGDATA" "$PGPORT"

log "building the key server (release)"
stack_keyserver_build release
BIN=$STACK_KS

if [ -x scripts/build-web.sh ] || [ -f scripts/build-web.sh ]; then
  bash scripts/build-web.sh || log "WARNING: building the web page failed; the API still runs"
fi

# The server runs as pqfile_app (it may not change or delete the audit log);
# migrations, retention and the account commands run as the owner.
[ -n "${PQFILE_DATABASE_URL:-}" ] || stack_db_env
export PQFILE_DATA_DIR=${PQFILE_DATA_DIR:-$STATE}
export PQFILE_WEB_DIR=${PQFILE_WEB_DIR:-$ROOT/web}
export PQFILE_BIND=${PQFILE_BIND:-127.0.0.1:8080}
export PQFILE_KMS=${PQFILE_KMS:-local}
# The master key lives apart from the database folder. A key left in
# .pqfile by an earlier version moves there (same file system: a rename).
KEYS=${PQFILE_KEY_DIR:-$ROOT/.pqfile-keys}
mkdir -p "$KEYS"; chmod 700 "$KEYS"
if [ -z "${PQFILE_KMS_MASTER_KEY:-}" ]; then
  export PQFILE_KMS_MASTER_KEY=$KEYS/kms-master.key
  if [ -f "$STATE/kms-master.key" ] && [ ! -e "$PQFILE_KMS_MASTER_KEY" ]; then
    mv "$STATE/kms-master.key" "$PQFILE_KMS_MASTER_KEY"
    log "moved the KMS master key out of $STATE to $PQFILE_KMS_MASTER_KEY"
  fi
fi

"$BIN" migrate

# First run: an admin and a demo user, each with a token kept 0600 in .pqfile/.
bootstrap() {
  local name=$1 role=$2 file=$STATE/$1.token
  if [ ! -s "$file" ]; then
    "$BIN" user add "$name" --role "$role" --if-missing >&2
    (umask 077; "$BIN" token create "$name" --label "scripts/run.sh" > "$file.tmp")
    mv "$file.tmp" "$file"
    log "created $role '$name'; token in $file"
  fi
}
bootstrap admin admin
bootstrap demo user

STACK_KS_CA=${PQFILE_CA_CERT:-} stack_keyserver_start
CURL_TLS=()
if [ -n "${PQFILE_CA_CERT:-}" ]; then CURL_TLS=(--cacert "$PQFILE_CA_CERT"); fi

# Tokens kept from an earlier run are useless if the database was reset: make new ones.
for name in demo admin; do
  code=$(curl -s "${CURL_TLS[@]}" -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(cat "$STATE/$name.token")" \
         "$STACK_URL/v1/documents?limit=1")
  if [ "$code" = 401 ]; then
    log "the saved $name token is not known to this database; creating a new one"
    rm -f "$STATE/$name.token"
    if [ "$name" = admin ]; then bootstrap admin admin; else bootstrap demo user; fi
  fi
done

cat >&2 <<MSG

  pqfile is running. Open:

    $STACK_URL/#token=$(cat "$STATE/demo.token")

  Admin token: $STATE/admin.token    API: $STACK_URL/openapi.json
  Data: PostgreSQL $PGDATA (port $PGPORT), KMS master key $PQFILE_KMS_MASTER_KEY
  Back up: PQFILE_BACKUP_PASSPHRASE=... scripts/backup.sh DIR (docs/OPERATIONS.md)
  Ctrl-C stops the key server and PostgreSQL.

MSG
wait "$STACK_KS_PID"
