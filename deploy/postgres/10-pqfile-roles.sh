#!/bin/sh
# docker-compose's PostgreSQL init script (runs once, on an empty volume):
# creates the key server's roles (scripts/sql/runtime-roles.sql, mounted at
# /pqfile-sql) and gives pqfile_app its password. The tables are created and
# owned by POSTGRES_USER when the key server first migrates.
set -eu
psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -f /pqfile-sql/runtime-roles.sql
psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" \
  -v pw="$PQFILE_APP_PASSWORD" -c "ALTER ROLE pqfile_app PASSWORD :'pw'"
