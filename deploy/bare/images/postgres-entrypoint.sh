#!/bin/bash
# Entrypoint of the bare cluster's postgres stand-in (deploy/bare/images.sh):
# the official image's docker-entrypoint.sh for what the Helm chart uses.
# POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, PGDATA, POSTGRES_INITDB_ARGS
# and POSTGRES_HOST_AUTH_METHOD mean what they mean there (initdb scripts in
# /docker-entrypoint-initdb.d are not run); the root filesystem may be
# read-only and the process is never root (no gosu step down).
set -Eeuo pipefail

if [[ "${1:-}" == -* ]]; then
  set -- postgres "$@"
fi
if [[ "${1:-}" != postgres ]]; then
  exec "$@"
fi

: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
: "${PGDATA:=/var/lib/postgresql/data}"
: "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"
export PGDATA

# As the official image, on every start: a volume's fsGroup ownership change
# (Kubernetes) leaves group bits that postgres refuses on its data directory.
if [[ -d "$PGDATA" && -O "$PGDATA" ]]; then
  chmod 700 "$PGDATA"
fi

if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
  if [[ -z "${POSTGRES_PASSWORD:-}" && "$POSTGRES_HOST_AUTH_METHOD" != trust ]]; then
    echo "error: the database is uninitialized and POSTGRES_PASSWORD is not set" >&2
    exit 1
  fi
  mkdir -p "$PGDATA"
  chmod 700 "$PGDATA"
  read -ra initdb_args <<<"${POSTGRES_INITDB_ARGS:-}"
  # As the official image: trust on the socket and loopback (initdb's
  # default), the password everywhere else; the password reaches initdb
  # through a pipe, never argv or a file.
  initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "${POSTGRES_PASSWORD:-}") \
    --auth-local=trust --auth-host=trust "${initdb_args[@]}"
  printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"
  # The official image sets this in postgresql.conf.sample before initdb.
  printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
  if [[ "$POSTGRES_DB" != postgres ]]; then
    # Single-user mode needs no socket or temporary server; exit_on_error
    # turns a failed statement into a failed exit.
    printf 'CREATE DATABASE "%s"\n' "${POSTGRES_DB//\"/\"\"}" |
      postgres --single -D "$PGDATA" -c exit_on_error=on postgres >/dev/null
  fi
  echo "PostgreSQL init process complete; ready for start up."
fi

exec "$@"
