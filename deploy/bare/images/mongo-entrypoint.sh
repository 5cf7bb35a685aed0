#!/bin/bash
# Entrypoint of the bare cluster's mongo stand-in (deploy/bare/images.sh):
# takes the official mongo image's command (`mongod [flags]`) and runs
# FerretDB on SQLite under /data/db instead. MONGO_INITDB_ROOT_USERNAME and
# MONGO_INITDB_ROOT_PASSWORD create that user in admin on the first start and
# turn authentication on (SCRAM), as they do for mongod.
set -euo pipefail

if [[ "${1:-}" == -* ]]; then
  set -- mongod "$@"
fi
if [[ "${1:-}" != mongod ]]; then
  exec "$@"
fi
shift

# Only the port carries over; storage engine and other mongod flags have no
# FerretDB meaning.
port=27017 ignored=()
while (($#)); do
  case "$1" in
    --port) port="$2"; shift 2 ;;
    --port=*) port="${1#*=}"; shift ;;
    *) ignored+=("$1"); shift ;;
  esac
done
if ((${#ignored[@]})); then
  echo "mongod stand-in (FerretDB): ignoring ${ignored[*]}" >&2
fi

args=(
  --listen-addr=":$port"
  --handler=sqlite --sqlite-url=file:/data/db/ --state-dir=/data/db
  --telemetry=disable --debug-addr=- --log-format=json
)
user="${MONGO_INITDB_ROOT_USERNAME:-}" password="${MONGO_INITDB_ROOT_PASSWORD:-}"
if [[ -n "$user" && -n "$password" ]]; then
  # The password goes by environment (kong reads FERRETDB_*), not argv.
  export FERRETDB_SETUP_PASSWORD="$password"
  args+=(--test-enable-new-auth --setup-database=admin --setup-username="$user")
elif [[ -n "$user" || -n "$password" ]]; then
  echo "error: set both MONGO_INITDB_ROOT_USERNAME and MONGO_INITDB_ROOT_PASSWORD, or neither" >&2
  exit 1
fi

exec ferretdb "${args[@]}"
