# The one place that starts and stops a pqfile stack: a PostgreSQL 15 cluster
# and the key server. Sourced (bash) by the run command, the test suites, the
# web e2e wrapper and the benchmarks; scripts/pg.sh is its command-line face.
#
#   stack_trap                       stop everything started here on exit;
#                                    Ctrl-C / SIGTERM exit with 130 / 143
#   stack_workdir NAME               a throwaway directory under /var/tmp
#                                    (reachable by the postgres user), removed
#                                    on exit; sets STACK_WORK
#   stack_pg DIR [PORT]              start a cluster (created if new) that is
#                                    stopped on exit; sets STACK_PG_PORT,
#                                    STACK_DB_URL (the owner, postgres) and
#                                    STACK_APP_URL (the runtime role pqfile_app)
#   stack_db_env                     export PQFILE_DATABASE_URL (runtime) and
#                                    PQFILE_OWNER_DATABASE_URL (owner) for the
#                                    key server started next
#   stack_keyserver_build [release]  cargo build; sets STACK_KS (the binary)
#   stack_user NAME [ROLE]           add a user, print a new API token
#   stack_keyserver_start [LOG]      "$STACK_KS serve" with the caller's
#                                    PQFILE_* environment, stopped on exit;
#                                    returns once /readyz answers 200; sets
#                                    STACK_KS_PID and STACK_URL (https://
#                                    ${PQFILE_TLS_HOST:-localhost}:PORT when
#                                    PQFILE_TLS_CERT_FILE is set; STACK_KS_CA
#                                    is a private CA to trust)
#   stack_keyserver_stop             stop it (stack_stop does it too)
#   stack_test_certs DIR             a test CA and a localhost certificate
#   stack_on_stop COMMAND            also run COMMAND (eval'd) first on stop
#   stack_stop                       stop the key server, then PostgreSQL,
#                                    then remove the work directory (idempotent)
#
# Clusters listen on 127.0.0.1 with trust authentication: for development and
# tests only. PostgreSQL refuses to run as root, so as root every pg_ctl runs
# as the `postgres` user and DIR must be reachable by it (docs/TOOLCHAIN.md).
# PQFILE_PG_OPTS adds server options (e.g. "-c shared_preload_libraries=...").
# STACK_PG_TLS=1 makes a new cluster TLS-only: a CA and a server certificate
# (localhost, 127.0.0.1) are made in DIR/tls, `ssl = on`, pg_hba.conf allows
# `hostssl` only, and the URLs carry sslmode=verify-full&sslrootcert=DIR/tls/ca.crt
# (STACK_PG_CA). DIR/tls/other-ca.crt is a second CA that signed nothing.

STACK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
STACK_DB_NAME=${PQFILE_DB_NAME:-pqfile_db}
STACK_PG_DIRS=()
STACK_KS_PID=""
STACK_WORK=""
STACK_ON_STOP=()
STACK_STOPPING=0

stack_log() { printf '\033[1;33m[stack]\033[0m %s\n' "$*" >&2; }

stack_as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

stack_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# URL query of a cluster in DIR ($2): its TLS settings, if it has them.
stack_pg_query() {
  if [ -n "${2:-}" ] && [ -f "$2/tls/ca.crt" ]; then echo "?sslmode=verify-full&sslrootcert=$2/tls/ca.crt"; fi
}
stack_pg_url() { echo "postgres://postgres@127.0.0.1:$1/$STACK_DB_NAME$(stack_pg_query "$@")"; }
stack_app_url() { echo "postgres://pqfile_app@127.0.0.1:$1/$STACK_DB_NAME$(stack_pg_query "$@")"; }

# A throwaway CA (ca.crt), a second CA that signed nothing (other-ca.crt)
# and a server certificate for localhost and 127.0.0.1 signed by the first
# (server.crt, server.key 0600) in DIR; the CA keys are deleted. For tests.
stack_test_certs() {
  local dir=$1
  mkdir -p "$dir"
  (
    cd "$dir"
    for ca in ca other-ca; do
      openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
        -subj "/CN=pqfile test $ca" -keyout "$ca.key" -out "$ca.crt" 2>/dev/null
    done
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -subj "/CN=localhost" -keyout server.key -out server.csr 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >ext.cnf
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
      -extfile ext.cnf -out server.crt 2>/dev/null
    rm -f server.csr ext.cnf ca.srl ca.key other-ca.key
    chmod 600 server.key
    chmod 644 ca.crt other-ca.crt server.crt
  )
}

# The test certificates in DIR/tls for the cluster in DIR, and pg_hba.conf
# accepting TLS connections only (STACK_PG_TLS=1).
stack_pg_tls_init() {
  local dir=$1 tls=$1/tls
  stack_test_certs "$tls"
  if [ "$(id -u)" -eq 0 ]; then chown -R postgres: "$tls"; fi
  chmod 755 "$tls"
  stack_as_pg tee "$dir/pg_hba.conf" >/dev/null <<HBA
# TLS only (scripts/lib/stack.sh, STACK_PG_TLS=1): no "host" lines, so a
# clear-text TCP connection is refused.
local   all all              trust
hostssl all all 127.0.0.1/32 trust
hostssl all all ::1/128      trust
HBA
}

# The key server runs as pqfile_app, a LOGIN member of the NOLOGIN group
# pqfile_runtime whose table rights the migrations grant (migration V7: the
# audit log is append-only for it); migrations and retention run as the
# owner (postgres here). Idempotent, and safe when several stacks share a
# cluster: losing a creation race is success.
stack_pg_roles() {
  psql -h 127.0.0.1 -p "$1" -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
    -f "$(dirname "${BASH_SOURCE[0]}")/../sql/runtime-roles.sql" >/dev/null
}

# Starts (creating if new) the cluster in DIR on PORT; prints its URL.
# Leaves it running: stack_pg is the variant that stops it on exit.
pg_start() {
  local dir=$1 port=${2:-54329}
  [ -x "$PGBIN/initdb" ] || { stack_log "PostgreSQL 15 not found in $PGBIN (run scripts/setup.sh --run)"; return 1; }
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$dir"
    # Every parent must be traversable by postgres.
    if ! runuser -u postgres -- test -x "$dir"; then
      stack_log "the postgres user cannot reach $dir; choose a data directory outside /root"; return 1
    fi
  fi
  chmod 700 "$dir"
  if [ ! -f "$dir/PG_VERSION" ]; then
    stack_log "initdb $dir"
    stack_as_pg "$PGBIN/initdb" -D "$dir" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
    if [ "${STACK_PG_TLS:-0}" = 1 ]; then stack_pg_tls_init "$dir"; fi
  fi
  local tls_opts=""
  if [ -f "$dir/tls/server.crt" ]; then tls_opts="-c ssl=on -c ssl_cert_file=$dir/tls/server.crt -c ssl_key_file=$dir/tls/server.key"; fi

  if stack_as_pg "$PGBIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    stack_log "PostgreSQL already running ($dir)"
  else
    stack_as_pg "$PGBIN/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 30 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 $tls_opts ${PQFILE_PG_OPTS:-}" start >/dev/null \
      || { stack_log "PostgreSQL failed to start; see $dir/server.log"; tail -20 "$dir/server.log" >&2; return 1; }
    stack_log "PostgreSQL started on 127.0.0.1:$port ($dir)"
  fi
  if ! psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
       "SELECT 1 FROM pg_database WHERE datname = '$STACK_DB_NAME'" | grep -q 1; then
    psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -qc "CREATE DATABASE $STACK_DB_NAME" >/dev/null
    stack_log "created database $STACK_DB_NAME"
  fi
  stack_pg_roles "$port"
  stack_pg_url "$port" "$dir"
}

# Fast shutdown of the cluster in DIR (no-op if it is not running).
pg_stop() {
  local dir=$1
  [ -f "$dir/PG_VERSION" ] || return 0
  if stack_as_pg "$PGBIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    stack_as_pg "$PGBIN/pg_ctl" -D "$dir" -m fast -w stop >/dev/null && stack_log "PostgreSQL stopped ($dir)"
  fi
}

stack_trap() {
  trap stack_stop EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

stack_workdir() {
  STACK_WORK=$(mktemp -d "/var/tmp/pqfile-$1.XXXXXX")
  # Traversable by the postgres user (the cluster usually lives inside).
  chmod 755 "$STACK_WORK"
}

stack_pg() {
  local dir=$1
  STACK_PG_PORT=${2:-$(stack_free_port)}
  STACK_PG_DIRS+=("$dir")
  STACK_DB_URL=$(pg_start "$dir" "$STACK_PG_PORT")
  dir=$(cd "$dir" && pwd)
  STACK_APP_URL=$(stack_app_url "$STACK_PG_PORT" "$dir")
  STACK_PG_CA=""
  if [ -f "$dir/tls/ca.crt" ]; then STACK_PG_CA=$dir/tls/ca.crt; fi
}

stack_db_env() {
  export PQFILE_DATABASE_URL=$STACK_APP_URL PQFILE_OWNER_DATABASE_URL=$STACK_DB_URL
}

stack_keyserver_build() {
  local target=${CARGO_TARGET_DIR:-$STACK_ROOT/target}
  if [ "${1:-}" = release ]; then
    (cd "$STACK_ROOT" && cargo build -q --release -p pqfile-keyserver)
    STACK_KS=$target/release/pqfile-keyserver
  else
    (cd "$STACK_ROOT" && cargo build -q -p pqfile-keyserver)
    STACK_KS=$target/debug/pqfile-keyserver
  fi
}

stack_user() {
  "$STACK_KS" user add "$1" --role "${2:-user}" >/dev/null
  "$STACK_KS" token create "$1" | tail -1
}

stack_keyserver_start() {
  local log=${1:-} hostport=${PQFILE_BIND:-127.0.0.1:8080}
  # A readiness answer must come from this process: refuse a port that is
  # already taken (another key server would answer /readyz for us).
  if (exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}") 2>/dev/null; then
    stack_log "something already listens on $hostport (another key server?); stop it or set PQFILE_BIND"
    return 1
  fi
  if [ -n "$log" ]; then "$STACK_KS" serve >"$log" 2>&1 & else "$STACK_KS" serve & fi
  STACK_KS_PID=$!
  # A wildcard bind is reached on loopback.
  case "$hostport" in 0.0.0.0:*|\[::\]:*) hostport=127.0.0.1:${hostport##*:} ;; esac
  local curl_tls=()
  if [ -n "${PQFILE_TLS_CERT_FILE:-}" ]; then
    # The name the certificate is for (tests: localhost).
    STACK_URL=https://${PQFILE_TLS_HOST:-localhost}:${hostport##*:}
    if [ -n "${STACK_KS_CA:-}" ]; then curl_tls=(--cacert "$STACK_KS_CA"); fi
  else
    STACK_URL=http://$hostport
  fi
  for _ in $(seq 1 600); do
    if ! kill -0 "$STACK_KS_PID" 2>/dev/null; then
      stack_log "the key server exited"; [ -n "$log" ] && tail -30 "$log" >&2; return 1
    fi
    curl -fsS "${curl_tls[@]}" -o /dev/null "$STACK_URL/readyz" 2>/dev/null && return 0
    sleep 0.1
  done
  stack_log "the key server was not ready after 60 s"; [ -n "$log" ] && tail -30 "$log" >&2
  return 1
}

stack_keyserver_stop() {
  if [ -n "$STACK_KS_PID" ] && kill -0 "$STACK_KS_PID" 2>/dev/null; then
    stack_log "stopping the key server"
    kill -TERM "$STACK_KS_PID" 2>/dev/null || true
    wait "$STACK_KS_PID" 2>/dev/null || true
  fi
  STACK_KS_PID=""
}

stack_on_stop() { STACK_ON_STOP+=("$1"); }

stack_stop() {
  [ "$STACK_STOPPING" -eq 1 ] && return 0
  STACK_STOPPING=1
  local cmd
  for cmd in "${STACK_ON_STOP[@]}"; do eval "$cmd" || true; done
  stack_keyserver_stop
  local dir
  for dir in "${STACK_PG_DIRS[@]}"; do pg_stop "$dir" || true; done
  if [ -n "$STACK_WORK" ]; then rm -rf "$STACK_WORK"; fi
  return 0
}
