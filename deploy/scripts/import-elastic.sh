#!/usr/bin/env bash
# Imports observability/elastic/ into the cluster's Elasticsearch and Kibana
# with the observability loader (observability/elastic/load.py), through a
# port-forward each:
#   import-elastic.sh elasticsearch   the ILM policy, ingest pipeline and index template
#                                     (before Fluent Bit ships its first line)
#   import-elastic.sh kibana          the data view and saved searches (Kibana healthy)
#   import-elastic.sh                 both
# A forward to a pod that is not Running fails at once, and kubectl drops a
# forward after a connection error, so every attempt starts fresh forwards;
# ATTEMPTS attempts, each waiting up to a minute for its forwards to answer.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${KUBECTL:=kubectl}" "${ES_PASSWORD:?}" "${ATTEMPTS:=5}" "${PYTHON:=python3}"
what="${1:-all}"
case "$what" in elasticsearch|kibana|all) ;; *) echo "usage: import-elastic.sh [elasticsearch|kibana|all]" >&2; exit 2 ;; esac
auth="Basic $(printf 'elastic:%s' "$ES_PASSWORD" | base64 -w0)"
es_port=19200 kibana_port=15601
forward_pids=()
stop_forwards() {
  if (( ${#forward_pids[@]} )); then
    kill "${forward_pids[@]}" 2>/dev/null || true
    wait "${forward_pids[@]}" 2>/dev/null || true
  fi
  forward_pids=()
}
trap stop_forwards EXIT
forward() {  # forward SERVICE LOCAL:REMOTE
  "$KUBECTL" -n elastic-system port-forward "svc/$1" "$2" >/dev/null 2>&1 & forward_pids+=($!)
}
answers() { curl -fsS -o /dev/null -m 5 -H "Authorization: $auth" "$1" 2>/dev/null; }

attempt() {
  forward elasticsearch-es-http "$es_port:9200"
  [[ "$what" == elasticsearch ]] || forward kibana-kb-http "$kibana_port:5601"
  local up=0
  for _ in $(seq 1 30); do
    if answers "http://127.0.0.1:$es_port/" \
      && { [[ "$what" == elasticsearch ]] || answers "http://127.0.0.1:$kibana_port/api/status"; }; then
      up=1; break
    fi
    sleep 2
  done
  (( up )) || { echo "the port-forwards do not answer yet" >&2; return 1; }
  local args=(--es-url "http://127.0.0.1:$es_port" --kibana-url "http://127.0.0.1:$kibana_port" --timeout 120)
  [[ "$what" == elasticsearch ]] && args+=(--skip-kibana)
  # The Elasticsearch part is idempotent (PUTs), so `kibana` may run it again.
  ELASTIC_USERNAME=elastic ELASTIC_PASSWORD="$ES_PASSWORD" "$PYTHON" observability/elastic/load.py "${args[@]}"
}

for n in $(seq 1 "$ATTEMPTS"); do
  attempt && exit 0
  stop_forwards
  (( n < ATTEMPTS )) && { echo "import ($what) failed, attempt $n of $ATTEMPTS; retrying with fresh port-forwards" >&2; sleep 5; }
done
echo "error: importing ($what) into Elasticsearch/Kibana failed $ATTEMPTS times; see kubectl -n elastic-system get pods,elasticsearch,kibana" >&2
exit 1
