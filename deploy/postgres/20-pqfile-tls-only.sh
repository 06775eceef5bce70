#!/bin/sh
# docker-compose's PostgreSQL init script (runs once, on an empty volume,
# after 10-pqfile-roles.sh): TCP connections only over TLS. Rewrites
# $PGDATA/pg_hba.conf: every host/hostssl/hostnossl/hostgssenc/hostnogssenc
# line (initdb's and the image's `host all all all scram-sha-256`) is
# dropped, the `local` (Unix socket) lines and comments are kept, and one
# `hostssl all all all scram-sha-256` line is appended. A clear-text TCP
# connection is then refused ("no pg_hba.conf entry for host ..., no
# encryption"). The image's entrypoint restarts the server after the init
# scripts, which reads the new file. Idempotent: on an existing cluster run
# it as postgres with PGDATA set, then SELECT pg_reload_conf().
set -eu
hba=$PGDATA/pg_hba.conf
marker='# pqfile (deploy/postgres/20-pqfile-tls-only.sh):'
awk -v marker="$marker" '
  index($0, marker) == 1 { next }
  $1 ~ /^host(ssl|nossl|gssenc|nogssenc)?$/ { next }
  { print }
' "$hba" >"$hba.new"
cat >>"$hba.new" <<EOF
$marker TCP only over TLS, with a password.
hostssl all all all scram-sha-256
EOF
chmod 600 "$hba.new"
mv -f "$hba.new" "$hba"
