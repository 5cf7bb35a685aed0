#!/usr/bin/env bash
# Imports observability/elastic/ into the cluster's Elasticsearch and Kibana:
#   *.ndjson                       Kibana saved objects (overwrite)
#   *template*.json                Elasticsearch index templates, named after the file
#   *ilm*.json / *policy*.json     ILM policies, named after the file
# Runs through the API server's service proxy, so no port needs to be open.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${KUBECTL:=kubectl}" "${ES_PASSWORD:?}"
dir=observability/elastic
shopt -s nullglob
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
for file in "$dir"/*.json; do
  name="$(basename "$file" .json)"
  case "$name" in
    *ilm*|*policy*) path="_ilm/policy/$name" ;;
    *template*) path="_index_template/$name" ;;
    *) continue ;;
  esac
  echo "  PUT $path"
  curl -fsS -o /dev/null -X PUT -H "Authorization: $auth" -H 'Content-Type: application/json' \
    --data-binary "@$file" "http://127.0.0.1:19200/$path"
done
for file in "$dir"/*.ndjson; do
  echo "  import $(basename "$file") into Kibana"
  curl -fsS -o /dev/null -X POST -H "Authorization: $auth" -H 'kbn-xsrf: true' \
    -F "file=@$file" "http://127.0.0.1:15601/api/saved_objects/_import?overwrite=true"
done
