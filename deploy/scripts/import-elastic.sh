#!/usr/bin/env bash
# Imports observability/elastic/ (index template, ILM policy, ingest pipeline,
# Kibana saved objects) into the cluster's Elasticsearch and Kibana with the
# observability loader (`make kibana-import`), through two port-forwards.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${KUBECTL:=kubectl}" "${ES_PASSWORD:?}"
auth="Basic $(printf 'elastic:%s' "$ES_PASSWORD" | base64 -w0)"
forward_pids=()
trap 'kill "${forward_pids[@]}" 2>/dev/null || true' EXIT
"$KUBECTL" -n elastic-system port-forward svc/elasticsearch-es-http 19200:9200 >/dev/null 2>&1 & forward_pids+=($!)
"$KUBECTL" -n elastic-system port-forward svc/kibana-kb-http 15601:5601 >/dev/null 2>&1 & forward_pids+=($!)
for _ in $(seq 1 60); do
  curl -fsS -o /dev/null -H "Authorization: $auth" http://127.0.0.1:19200/ 2>/dev/null \
    && curl -fsS -o /dev/null -H "Authorization: $auth" http://127.0.0.1:15601/api/status 2>/dev/null && break
  sleep 2
done
ELASTIC_USERNAME=elastic ELASTIC_PASSWORD="$ES_PASSWORD" \
  make -s kibana-import ES_URL=http://127.0.0.1:19200 KIBANA_URL=http://127.0.0.1:15601
