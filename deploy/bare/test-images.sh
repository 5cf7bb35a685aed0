#!/usr/bin/env bash
# Runs each stand-in image of images.sh the way the Helm chart runs it (its
# uid, read-only root, no capabilities, no privilege gain, tmpfs where the
# chart mounts an emptyDir, a volume for the data) and checks that the server
# starts, passes the chart's probe, accepts its password and refuses a wrong
# one, keeps its data in a new container on the same volume, and that its
# exporter reports it up. Removes every container, volume and network it made.
# Needs the images (images.sh) and pymongo (.venv from `make venv`, or python3).
#   test-images.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
source deploy/bare/lib.sh

declare -A IMG
while IFS='=' read -r key ref; do IMG[$key]="$ref"; done < <(bash deploy/bare/images.sh list)
for key in "${!IMG[@]}"; do
  docker image inspect "${IMG[$key]}" >/dev/null 2>&1 || die "${IMG[$key]} is missing: run deploy/bare/images.sh"
done
PYTHON=.venv/bin/python
[[ -x "$PYTHON" ]] || PYTHON=python3
"$PYTHON" -c 'import pymongo' 2>/dev/null || die "pymongo is needed: make venv (or pip install pymongo)"

RUN="sbx-standin-test-$$"      # names and label of everything this run makes
# As the chart generates them (randAlphaNum 32): it puts them in URLs unescaped.
PASSWORD="$(python3 -c 'import random, string as s; print("".join(random.choices(s.ascii_letters + s.digits, k=32)))')"
NET="$RUN"
# The chart's securityContext: readOnlyRootFilesystem, drop ALL, no privilege
# escalation; every pod has an emptyDir at /tmp.
CHART=(--label "$RUN" --network "$NET" --read-only --cap-drop ALL --security-opt no-new-privileges --tmpfs /tmp)

cleanup() {
  local ids
  mapfile -t ids < <(docker ps -aq --filter "label=$RUN")
  ((${#ids[@]} == 0)) || docker rm -f "${ids[@]}" >/dev/null
  mapfile -t ids < <(docker volume ls -q --filter "label=$RUN")
  ((${#ids[@]} == 0)) || docker volume rm "${ids[@]}" >/dev/null
  docker network rm "$NET" >/dev/null 2>&1 || true
}
trap cleanup EXIT

pass() { printf 'ok   %s\n' "$*"; }
fail() { printf 'FAIL %s\n' "$*"; docker ps -a --filter "label=$RUN" --format '{{.Names}}' | while read -r c; do
  echo "--- logs of $c"; docker logs --tail 20 "$c" 2>&1; done; exit 1; }
# until SECONDS COMMAND...: retry COMMAND once a second
until_ok() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do ((SECONDS < deadline)) || return 1; sleep 1; done
}
# A volume as Kubernetes hands it to a pod with fsGroup 999: root's, group 999, setgid.
volume() {
  docker volume create --label "$RUN" "$RUN-$1" >/dev/null
  docker run --rm --label "$RUN" --user 0 --entrypoint sh -v "$RUN-$1:/v" "${IMG[POSTGRES]}" \
    -c 'chown 0:999 /v && chmod 2775 /v'
}
host_port() { docker port "$1" "$2/tcp" | awk -F: 'NR == 1 { print $NF }'; }
# metric CONTAINER PORT NAME -> NAME's value(s) on the exporter's /metrics
metrics_page() { curl -fsS "http://127.0.0.1:$(host_port "$1" "$2")/metrics"; }
metric() { metrics_page "$1" "$2" | awk -v m="$3" '$1 == m || index($1, m "{") == 1 { print $2 }'; }
expect_metrics() {  # expect_metrics EXPORTER CONTAINER PORT NAME...: each name is published
  local page name
  page="$(metrics_page "$2" "$3")"
  for name in "${@:4}"; do
    grep -qE "^$name(\{| )" <<<"$page" || fail "$1 publishes no $name"
  done
  pass "$1: the dashboard's ${*:4}"
}

docker network create --label "$RUN" "$NET" >/dev/null

# --- PostgreSQL --------------------------------------------------------------
volume pg
postgres() {
  docker run -d --name "$RUN-pg" "${CHART[@]}" --user 999:999 --tmpfs /var/run/postgresql \
    -v "$RUN-pg:/var/lib/postgresql/data" -e POSTGRES_USER=sandbox -e POSTGRES_DB=users \
    -e POSTGRES_PASSWORD="$PASSWORD" -e PGDATA=/var/lib/postgresql/data/pgdata "${IMG[POSTGRES]}" >/dev/null
  until_ok 60 docker exec "$RUN-pg" pg_isready --host=127.0.0.1 --username=sandbox --dbname=users \
    || fail "postgres: the chart's probe (pg_isready) never passed"
  pass "postgres: started, pg_isready passes"
}
psql() {  # psql PASSWORD SQL: as a client on the network would
  docker run --rm --label "$RUN" --network "$NET" -e PGPASSWORD="$1" "${IMG[POSTGRES]}" \
    psql -h "$RUN-pg" -U sandbox -d users -v ON_ERROR_STOP=1 -Atc "$2"
}
postgres
[[ "$(psql "$PASSWORD" "select rolpassword like 'SCRAM-SHA-256\$%' from pg_authid where rolname = 'sandbox'")" == t ]] \
  || fail "postgres: the password is not stored as SCRAM-SHA-256"
psql "$PASSWORD" "create table kept (v text); insert into kept values ('before restart')" >/dev/null \
  || fail "postgres: the password was refused"
pass "postgres: password accepted over TCP (SCRAM-SHA-256)"
psql wrong "select 1" >/dev/null 2>&1 && fail "postgres: a wrong password was accepted"
pass "postgres: wrong password refused"
# A connected client must not hold up the stop (the image's STOPSIGNAL is SIGINT).
docker run -d --label "$RUN" --network "$NET" -e PGPASSWORD="$PASSWORD" "${IMG[POSTGRES]}" \
  psql -h "$RUN-pg" -U sandbox -d users -c 'select pg_sleep(300)' >/dev/null
sleep 1
start=$SECONDS
docker stop -t 30 "$RUN-pg" >/dev/null
((SECONDS - start < 10)) || fail "postgres: stopping took $((SECONDS - start)) s with a client connected"
pass "postgres: stopped in $((SECONDS - start)) s with a client connected"
docker rm "$RUN-pg" >/dev/null
postgres
[[ "$(psql "$PASSWORD" "select v from kept")" == "before restart" ]] || fail "postgres: data lost across a restart"
[[ "$(docker logs "$RUN-pg" 2>&1)" != *"init process complete"* ]] \
  || fail "postgres: initialised again on a used volume"
pass "postgres: new container on the same volume keeps the data and the password"

docker run -d --name "$RUN-pg-exporter" "${CHART[@]}" --user 10001:10001 -p 127.0.0.1::9187 \
  -e DATA_SOURCE_URI="$RUN-pg:5432/users?sslmode=disable" -e DATA_SOURCE_USER=sandbox \
  -e DATA_SOURCE_PASS="$PASSWORD" "${IMG[POSTGRES_EXPORTER]}" >/dev/null
until_ok 30 metrics_page "$RUN-pg-exporter" 9187 || fail "postgres_exporter: no /metrics on 9187"
[[ "$(metric "$RUN-pg-exporter" 9187 pg_up)" == 1 ]] || fail "postgres_exporter: pg_up is not 1"
pass "postgres_exporter: pg_up 1"
expect_metrics postgres_exporter "$RUN-pg-exporter" 9187 pg_stat_database_numbackends pg_settings_max_connections \
  pg_stat_database_xact_commit pg_stat_database_blks_hit pg_database_size_bytes

# --- Redis -------------------------------------------------------------------
volume redis
redis() {
  # The chart's `command:`, which replaces the image's entrypoint.
  docker run -d --name "$RUN-redis" "${CHART[@]}" --user 999:999 -v "$RUN-redis:/data" \
    -e REDIS_PASSWORD="$PASSWORD" -e REDISCLI_AUTH="$PASSWORD" --entrypoint redis-server "${IMG[REDIS]}" \
    --requirepass "$PASSWORD" --maxmemory 96mb --maxmemory-policy noeviction --appendonly yes --dir /data >/dev/null
  until_ok 30 bash -c "[[ \$(docker exec '$RUN-redis' redis-cli ping) == PONG ]]" \
    || fail "redis: the chart's probe (redis-cli ping) never passed"
  pass "redis: started, redis-cli ping passes"
}
redis_cli() {  # redis_cli PASSWORD COMMAND...
  docker run --rm --label "$RUN" --network "$NET" -e REDISCLI_AUTH="$1" "${IMG[REDIS]}" \
    redis-cli -h "$RUN-redis" "${@:2}" 2>&1
}
redis
[[ "$(redis_cli "$PASSWORD" set kept "before restart")" == OK ]] || fail "redis: the password was refused"
pass "redis: password accepted"
[[ "$(redis_cli wrong get kept)" == *WRONGPASS* ]] || fail "redis: a wrong password was not refused"
pass "redis: wrong password refused"
docker rm -f "$RUN-redis" >/dev/null
redis
[[ "$(redis_cli "$PASSWORD" get kept)" == "before restart" ]] || fail "redis: data lost across a restart"
pass "redis: new container on the same volume keeps the data (append-only file)"

docker run -d --name "$RUN-redis-exporter" "${CHART[@]}" --user 10001:10001 -p 127.0.0.1::9121 \
  -e REDIS_ADDR="redis://$RUN-redis:6379" -e REDIS_PASSWORD="$PASSWORD" "${IMG[REDIS_EXPORTER]}" >/dev/null
until_ok 30 metrics_page "$RUN-redis-exporter" 9121 || fail "redis_exporter: no /metrics on 9121"
[[ "$(metric "$RUN-redis-exporter" 9121 redis_up)" == 1 ]] || fail "redis_exporter: redis_up is not 1"
pass "redis_exporter: redis_up 1"
expect_metrics redis_exporter "$RUN-redis-exporter" 9121 redis_memory_used_bytes redis_memory_max_bytes \
  redis_commands_processed_total redis_connected_clients redis_keyspace_hits_total redis_db_keys

# --- MongoDB (FerretDB) ------------------------------------------------------
volume mongo
mongo() {
  docker run -d --name "$RUN-mongo" "${CHART[@]}" --user 999:999 --tmpfs /data/configdb -p 127.0.0.1::27017 \
    -v "$RUN-mongo:/data/db" -e MONGO_INITDB_ROOT_USERNAME=sandbox -e MONGO_INITDB_ROOT_PASSWORD="$PASSWORD" \
    "${IMG[MONGO]}" mongod --wiredTigerCacheSizeGB 0.25 >/dev/null
  # The chart's probe is a TCP connect.
  until_ok 30 bash -c "exec 3<>/dev/tcp/127.0.0.1/$(host_port "$RUN-mongo" 27017)" \
    || fail "mongo: port 27017 never opened"
  pass "mongo: started, port 27017 open"
}
mongo_check() {  # mongo_check first|restart: the client checks, with the chart's URL
  "$PYTHON" - "$(host_port "$RUN-mongo" 27017)" "$PASSWORD" "$1" <<'EOF'
import sys
import pymongo
from pymongo.errors import OperationFailure

port, password, phase = sys.argv[1], sys.argv[2], sys.argv[3]
host = f"127.0.0.1:{port}"
url = f"mongodb://sandbox:{password}@{host}/?authSource=admin"


def client(u: str) -> pymongo.MongoClient:
    return pymongo.MongoClient(u, serverSelectionTimeoutMS=5000)


def refused(u: str, what: str) -> None:
    try:
        client(u).activity.events.find_one()
    except OperationFailure:
        print(f"ok   mongo: {what} refused")
        return
    sys.exit(f"FAIL mongo: {what} accepted")


mechs = client(f"mongodb://{host}/").admin.command("hello", saslSupportedMechs="admin.sandbox")
assert "SCRAM-SHA-256" in mechs.get("saslSupportedMechs", []), mechs
client(url + "&authMechanism=SCRAM-SHA-256").admin.command("ping")
events = client(url).activity.events
if phase == "first":
    events.insert_many([{"kind": k, "n": n} for n, k in enumerate("abcab")])
    events.create_index([("kind", 1), ("n", -1)], name="kind_n")
assert events.count_documents({"kind": "a"}) == 2
assert events.find_one({"n": 2}, {"_id": 0}) == {"kind": "c", "n": 2}
counts = {d["_id"]: d["count"] for d in events.aggregate([{"$group": {"_id": "$kind", "count": {"$sum": 1}}}])}
assert counts == {"a": 2, "b": 2, "c": 1}, counts
assert "kind_n" in {i["name"] for i in events.list_indexes()}
when = "first start" if phase == "first" else "after a restart"
print(f"ok   mongo: SCRAM-SHA-256 with the chart's URL; insert, find, aggregate, createIndex ({when})")
refused(f"mongodb://sandbox:wrong@{host}/?authSource=admin", "wrong password")
refused(f"mongodb://{host}/", "unauthenticated client")
EOF
}
mongo
mongo_check first || fail "mongo: client checks"
docker rm -f "$RUN-mongo" >/dev/null
mongo
mongo_check restart || fail "mongo: client checks after a restart"

docker run -d --name "$RUN-mongo-exporter" "${CHART[@]}" --user 10001:10001 -p 127.0.0.1::9216 \
  -e MONGODB_URI="mongodb://sandbox:$PASSWORD@$RUN-mongo:27017/admin" \
  "${IMG[MONGODB_EXPORTER]}" >/dev/null
until_ok 30 metrics_page "$RUN-mongo-exporter" 9216 || fail "mongodb_exporter: no /metrics on 9216"
[[ "$(metric "$RUN-mongo-exporter" 9216 mongodb_up)" == 1 ]] || fail "mongodb_exporter: mongodb_up is not 1"
pass "mongodb_exporter: mongodb_up 1"

echo "all stand-in images pass"
