#!/usr/bin/env bash
# `make grafana` / `make kibana`: URL and credentials; a port-forward when the
# gateway is not reachable on localhost (e.g. minikube without --ports).
set -euo pipefail
: "${HOST_PORT:=8080}" "${KUBECTL:=kubectl}"
what="$1"
case "$what" in
  grafana)
    ns=monitoring svc=svc/kps-grafana port=80
    user=admin password="$("$KUBECTL" -n monitoring get secret kps-grafana -o jsonpath='{.data.admin-password}' | base64 -d)" ;;
  kibana)
    ns=elastic-system svc=svc/kibana-kb-http port=5601
    user=elastic password="$("$KUBECTL" -n elastic-system get secret elasticsearch-es-elastic-user -o jsonpath='{.data.elastic}' | base64 -d)" \
      || { echo "Kibana is not installed (PROFILE=lite?)" >&2; exit 1; } ;;
  *) echo "usage: open.sh grafana|kibana" >&2; exit 2 ;;
esac
url="http://$what.localtest.me:$HOST_PORT"
echo "$what: $url  user $user  password $password"
if ! curl -fsS -o /dev/null -m 3 "$url" 2>/dev/null && ! curl -fsS -o /dev/null -m 3 "$url/api/status" 2>/dev/null; then
  echo "the gateway does not answer on localhost:$HOST_PORT; forwarding http://localhost:3000 instead (Ctrl-C stops)"
  exec "$KUBECTL" -n "$ns" port-forward "$svc" "3000:$port"
fi
