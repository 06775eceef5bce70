#!/bin/sh
# docker-compose's one-shot `pg-certs` service (image postgres:15, whose
# openssl CLI comes with postgresql-common's ssl-cert): the certificates
# PostgreSQL serves and the key server checks with sslmode=verify-full.
# Does nothing if they exist already.
#
#   PG_TLS_DIR   /pgtls     server.crt and server.key (the `pgtls` volume,
#                           mounted by the postgres service only)
#   PG_CA_DIR    /pgca      ca.crt (the `pgca` volume: all the key server
#                           mounts, so it never sees the server key)
#   PG_TLS_HOST  postgres   the DNS name the certificate is valid for: the
#                           host of the key server's database URLs
#   PG_TLS_DAYS  730        validity of the server certificate (the CA's:
#                           one day longer)
#   PG_TLS_OWNER 999:999    owner of server.key and server.crt (postgres in
#                           the postgres image); empty: no chown
#
# A new CA (EC P-256) signs one server certificate (EC P-256, SAN
# DNS:$PG_TLS_HOST), then the CA's private key is deleted: nothing can sign
# another certificate the key server would trust. To renew (expiry, or a new
# host name), delete the three files (or the `pgtls` and `pgca` volumes),
# run this again and restart PostgreSQL. If only some of the files exist,
# all three are made anew (a lone certificate is useless without the CA key).
#
# Outside a container: PG_TLS_DIR=DIR PG_CA_DIR=DIR2 sh make-certs.sh. As
# root it chowns to PG_TLS_OWNER (numeric ids need no such user here; give
# a name such as postgres:postgres for a local server); as anyone else the
# files stay the caller's, which PostgreSQL accepts if it runs as the caller.
set -eu

tls=${PG_TLS_DIR:-/pgtls}
ca_dir=${PG_CA_DIR:-/pgca}
host=${PG_TLS_HOST:-postgres}
days=${PG_TLS_DAYS:-730}
owner=${PG_TLS_OWNER-999:999}

log() { echo "make-certs: $*" >&2; }

case $days in '' | *[!0-9]*) log "PG_TLS_DAYS must be a number of days ($days)"; exit 2 ;; esac

if [ -f "$tls/server.crt" ] && [ -f "$tls/server.key" ] && [ -f "$ca_dir/ca.crt" ]; then
  log "certificates exist ($tls/server.crt, $ca_dir/ca.crt): nothing to do"
  log "server certificate valid until $(openssl x509 -in "$tls/server.crt" -noout -enddate | cut -d= -f2)"
  if ! openssl x509 -in "$tls/server.crt" -noout -checkend $((30 * 86400)) >/dev/null; then
    log "WARNING: the server certificate expires within 30 days; to renew, delete the files and rerun"
  fi
  if ! openssl verify -CAfile "$ca_dir/ca.crt" "$tls/server.crt" >/dev/null 2>&1; then
    log "WARNING: $tls/server.crt is not signed by $ca_dir/ca.crt; the key server will refuse it"
  fi
  exit 0
fi
if [ -e "$tls/server.crt" ] || [ -e "$tls/server.key" ] || [ -e "$ca_dir/ca.crt" ]; then
  log "incomplete set of certificates: making all three anew"
fi

mkdir -p "$tls" "$ca_dir"
umask 077
# Work inside $tls, so the server files are moved into place, not copied.
work=$(mktemp -d "$tls/.make-certs.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 1' HUP INT TERM

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days $((days + 1)) \
  -subj "/CN=pqfile PostgreSQL CA $(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  -keyout "$work/ca.key" -out "$work/ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -subj "/CN=$host" -keyout "$work/server.key" -out "$work/server.csr" 2>/dev/null
printf '%s\n' "subjectAltName=DNS:$host" "basicConstraints=critical,CA:FALSE" \
  "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$work/ext.cnf"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" \
  -CAcreateserial -CAserial "$work/ca.srl" -days "$days" -extfile "$work/ext.cnf" \
  -out "$work/server.crt" 2>/dev/null
rm -f "$work/ca.key" "$work/ca.srl" "$work/server.csr" "$work/ext.cnf"
openssl verify -CAfile "$work/ca.crt" "$work/server.crt" >/dev/null

chmod 600 "$work/server.key"
chmod 644 "$work/server.crt" "$work/ca.crt"
if [ -z "$owner" ]; then
  log "PG_TLS_OWNER is empty: files left owned by $(id -un)"
elif [ "$(id -u)" -eq 0 ]; then
  chown "$owner" "$work/server.key" "$work/server.crt"
  if ! getent passwd "${owner%%:*}" >/dev/null 2>&1; then
    log "note: no user ${owner%%:*} here; chowned by number (postgres in the postgres image)"
  fi
else
  log "not root: cannot chown to $owner; files left owned by $(id -un)"
fi
mv -f "$work/server.key" "$tls/server.key"
mv -f "$work/server.crt" "$tls/server.crt"
# The CA certificate last: the set is complete only once it is there.
cp "$work/ca.crt" "$ca_dir/.ca.crt.new"
chmod 644 "$ca_dir/.ca.crt.new"
mv -f "$ca_dir/.ca.crt.new" "$ca_dir/ca.crt"
chmod 755 "$ca_dir"

log "made $tls/server.crt, $tls/server.key (DNS:$host, $days days) and $ca_dir/ca.crt; the CA key is deleted"
log "server certificate valid until $(openssl x509 -in "$tls/server.crt" -noout -enddate | cut -d= -f2)"
