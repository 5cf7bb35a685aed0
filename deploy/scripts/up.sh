#!/usr/bin/env bash
# `make up`: a kind (or minikube) cluster with the platform and the sandbox,
# idempotent: every step is an upgrade of what is already there.
#   CLUSTER=kind|minikube  PROFILE=full|lite  LOADTEST=0|1  (see deploy/deploy.mk for the rest)
set -euo pipefail
cd "$(dirname "$0")/../.."

: "${CLUSTER:=kind}" "${PROFILE:=full}" "${CLUSTER_NAME:=sandbox}" "${NAMESPACE:=sandbox}"
: "${RELEASE:=sandbox}" "${HOST_PORT:=8080}" "${TIMEOUT:=20m}" "${HELM:=helm}" "${KIND:=kind}"
: "${KUBECTL:=kubectl}" "${IMAGE:?}" "${PYTHON_IMAGE:=python:3.12-slim}"
: "${KPS_VERSION:?}" "${ECK_OPERATOR_VERSION:?}" "${ECK_STACK_VERSION:?}" "${FLUENT_BIT_VERSION:?}"
: "${ENVOY_GATEWAY_VERSION:?}" "${METRICS_SERVER_VERSION:?}"
# LOADTEST=1 also builds and loads the Locust image and enables the chart's
# `loadtest` block (master + workers); HELM_ARGS go to the sandbox release.
: "${LOADTEST:=0}" "${LOADTEST_IMAGE:=microservices-sandbox-loadtest:${IMAGE##*:}}" "${HELM_ARGS:=}"

P=deploy/platform
start=$(date +%s)
step() { printf '\n\033[1m==> [%3ss] %s\033[0m\n' "$(( $(date +%s) - start ))" "$*" >&2; }
die() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# --- prerequisites ---------------------------------------------------------
version_at_least() { [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" == "$2" ]]; }
need() {  # need CMD MIN_VERSION VERSION_COMMAND HINT
  local cmd="$1" min="$2" probe="$3" hint="$4" have
  command -v "$cmd" >/dev/null 2>&1 || [[ -x "$cmd" ]] || die "$cmd not found: $hint"
  have="$(eval "$probe" 2>/dev/null | grep -Eo '[0-9]+\.[0-9]+(\.[0-9]+)?' | head -n1 || true)"
  [[ -n "$have" ]] || die "cannot tell the version of $cmd: $hint"
  version_at_least "$have" "$min" || die "$cmd $have is older than $min: $hint"
}
step "checking prerequisites ($CLUSTER, profile $PROFILE)"
[[ "$PROFILE" == full || "$PROFILE" == lite ]] || die "PROFILE must be full or lite, not $PROFILE"
[[ "$LOADTEST" == 0 || "$LOADTEST" == 1 ]] || die "LOADTEST must be 0 or 1, not $LOADTEST"
need docker 20.10 "docker version --format '{{.Client.Version}}'" "install Docker (apt-get install -y docker.io) and start it"
docker info >/dev/null 2>&1 || die "the Docker engine does not answer: start Docker (sudo systemctl start docker, or Docker Desktop)"
need "$KUBECTL" 1.29 "$KUBECTL version --client" "install kubectl: https://kubernetes.io/docs/tasks/tools/"
need "$HELM" 3.14 "$HELM version --short" "run make deploy-tools (builds helm into .tools/bin) or install Helm 3"
case "$CLUSTER" in
  kind) need "$KIND" 0.27 "$KIND version" "run make deploy-tools (builds kind into .tools/bin) or install kind" ;;
  minikube) need minikube 1.33 "minikube version --short" "install minikube: https://minikube.sigs.k8s.io/docs/start/" ;;
  *) die "CLUSTER must be kind or minikube, not $CLUSTER" ;;
esac

# --- cluster ---------------------------------------------------------------
if [[ "$CLUSTER" == kind ]]; then
  if "$KIND" get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME"; then
    step "kind cluster $CLUSTER_NAME exists"
  else
    step "creating kind cluster $CLUSTER_NAME (localhost:$HOST_PORT -> gateway)"
    config="$(mktemp)"
    sed -e "s/^name: .*/name: $CLUSTER_NAME/" -e "s/hostPort: 8080/hostPort: $HOST_PORT/" deploy/k8s/kind-config.yaml > "$config"
    "$KIND" create cluster --config "$config" --wait 120s
    rm -f "$config"
  fi
  "$KUBECTL" config use-context "kind-$CLUSTER_NAME" >/dev/null
else
  if minikube status -p "$CLUSTER_NAME" >/dev/null 2>&1; then
    step "minikube profile $CLUSTER_NAME is running"
  else
    step "starting minikube profile $CLUSTER_NAME"
    minikube start -p "$CLUSTER_NAME" --cpus=4 --memory=8g --ports="127.0.0.1:$HOST_PORT:30080"
  fi
  "$KUBECTL" config use-context "$CLUSTER_NAME" >/dev/null
fi

# --- images ----------------------------------------------------------------
# A tag per image content, so an upgrade rolls the pods only when the image changed.
load_image() {  # load_image REF -> prints the tag it was loaded under
  local ref="$1" image_id tag
  image_id="$(docker image inspect --format '{{.Id}}' "$ref" | sed 's/^sha256://' | cut -c1-12)"
  tag="${ref##*:}-$image_id"
  docker tag "$ref" "${ref%:*}:$tag"
  step "loading ${ref%:*}:$tag into the cluster"
  if [[ "$CLUSTER" == kind ]]; then
    "$KIND" load docker-image --name "$CLUSTER_NAME" "${ref%:*}:$tag" >&2
  else
    minikube -p "$CLUSTER_NAME" image load "${ref%:*}:$tag" >&2
  fi
  echo "$tag"
}
loadtest_args=()
if [[ "$LOADTEST" == 1 ]]; then
  step "building $IMAGE and $LOADTEST_IMAGE"
  IMAGE="$IMAGE" LOADTEST_IMAGE="$LOADTEST_IMAGE" PYTHON_IMAGE="$PYTHON_IMAGE" bash deploy/scripts/images.sh >/dev/null
  loadtest_tag="$(load_image "$LOADTEST_IMAGE")"
  loadtest_args=(--set loadtest.enabled=true --set loadtest.image.repository="${LOADTEST_IMAGE%:*}"
                 --set loadtest.image.tag="$loadtest_tag")
else
  step "building $IMAGE"
  IMAGE="$IMAGE" LOADTEST_IMAGE="" PYTHON_IMAGE="$PYTHON_IMAGE" bash deploy/scripts/images.sh >/dev/null
fi
deployed_tag="$(load_image "$IMAGE")"

# --- platform --------------------------------------------------------------
helm_up() {  # helm_up RELEASE NAMESPACE CHART VERSION REPO VALUES...
  local release="$1" ns="$2" chart="$3" version="$4" repo="$5"; shift 5
  local args=(upgrade --install "$release" "$chart" --version "$version" -n "$ns" --create-namespace --wait --timeout "$TIMEOUT")
  [[ -n "$repo" ]] && args+=(--repo "$repo")
  for values in "$@"; do args+=(-f "$values"); done
  step "helm $release ($chart $version) in $ns"
  "$HELM" "${args[@]}" >/dev/null
}
helm_up metrics-server kube-system metrics-server "$METRICS_SERVER_VERSION" https://kubernetes-sigs.github.io/metrics-server/ "$P/metrics-server.yaml"
helm_up eg envoy-gateway-system oci://docker.io/envoyproxy/gateway-helm "$ENVOY_GATEWAY_VERSION" "" "$P/envoy-gateway.yaml"
"$KUBECTL" apply -f "$P/gateway.yaml" >/dev/null

kps_values=("$P/kube-prometheus-stack.yaml")
if [[ "$PROFILE" == full ]]; then
  helm_up eck-operator elastic-system eck-operator "$ECK_OPERATOR_VERSION" https://helm.elastic.co "$P/eck-operator.yaml"
  helm_up eck elastic-system eck-stack "$ECK_STACK_VERSION" https://helm.elastic.co "$P/eck-stack.yaml"
  step "waiting for Elasticsearch and Kibana"
  for _ in $(seq 1 120); do
    health="$("$KUBECTL" -n elastic-system get elasticsearch elasticsearch -o jsonpath='{.status.health}' 2>/dev/null || true)"
    [[ "$health" == green || "$health" == yellow ]] && break
    printf '.' >&2; sleep 5
  done
  echo >&2
  [[ "$health" == green || "$health" == yellow ]] || die "Elasticsearch is not healthy (status: ${health:-none}); see kubectl -n elastic-system describe elasticsearch"
  es_password="$("$KUBECTL" -n elastic-system get secret elasticsearch-es-elastic-user -o jsonpath='{.data.elastic}' | base64 -d)"
  for ns in monitoring logging; do
    "$KUBECTL" create namespace "$ns" --dry-run=client -o yaml | "$KUBECTL" apply -f - >/dev/null
  done
  "$KUBECTL" -n monitoring create secret generic grafana-elasticsearch --from-literal=password="$es_password" --dry-run=client -o yaml | "$KUBECTL" apply -f - >/dev/null
  "$KUBECTL" -n logging create secret generic fluent-bit-elasticsearch --from-literal=password="$es_password" --dry-run=client -o yaml | "$KUBECTL" apply -f - >/dev/null
  kps_values+=("$P/kube-prometheus-stack-logs.yaml")
fi
helm_up kps monitoring kube-prometheus-stack "$KPS_VERSION" https://prometheus-community.github.io/helm-charts "${kps_values[@]}"
"$KUBECTL" apply -f "$P/grafana-route.yaml" >/dev/null
if [[ "$PROFILE" == full ]]; then
  helm_up fluent-bit logging fluent-bit "$FLUENT_BIT_VERSION" https://fluent.github.io/helm-charts "$P/fluent-bit.yaml"
  "$KUBECTL" apply -f "$P/kibana-route.yaml" >/dev/null
  step "importing the index template and Kibana saved objects"
  ES_PASSWORD="$es_password" KUBECTL="$KUBECTL" bash deploy/scripts/import-elastic.sh
fi

# --- the sandbox -----------------------------------------------------------
step "sandbox chart in namespace $NAMESPACE"
profile_values="ci/${CLUSTER}-values.yaml"
[[ "$PROFILE" == lite ]] && profile_values="ci/lite-values.yaml"
step "waiting for the sandbox (timeout $TIMEOUT)"
# shellcheck disable=SC2086  # HELM_ARGS is a list of words
NAMESPACE="$NAMESPACE" RELEASE="$RELEASE" TIMEOUT="$TIMEOUT" HELM="$HELM" KUBECTL="$KUBECTL" \
  VALUES="$profile_values" IMAGE_REPOSITORY="${IMAGE%:*}" IMAGE_TAG="$deployed_tag" \
  bash deploy/scripts/install-sandbox.sh ${loadtest_args[@]+"${loadtest_args[@]}"} $HELM_ARGS \
  || die "the sandbox release did not become ready; see make status and make logs SERVICE=..."

step "seeding the demo catalog"
"$KUBECTL" -n "$NAMESPACE" exec "deploy/$RELEASE-catalog" -- sandbox-seed >/dev/null 2>&1 \
  || "$KUBECTL" -n "$NAMESPACE" exec "deploy/$RELEASE-sandbox-catalog" -- sandbox-seed

# --- what to open ----------------------------------------------------------
admin_email="$("$KUBECTL" -n "$NAMESPACE" get secret "$RELEASE-credentials" -o jsonpath='{.data.admin-email}' 2>/dev/null | base64 -d || true)"
admin_password="$("$KUBECTL" -n "$NAMESPACE" get secret "$RELEASE-credentials" -o jsonpath='{.data.admin-password}' 2>/dev/null | base64 -d || true)"
grafana_password="$("$KUBECTL" -n monitoring get secret kps-grafana -o jsonpath='{.data.admin-password}' | base64 -d)"
base="http://localhost:$HOST_PORT"
cat <<EOT

The sandbox is up ($CLUSTER, profile $PROFILE) in $(( $(date +%s) - start ))s.

  API          $base/api/v1/products   (docs: $base/api/v1/... per service; JWKS: $base/.well-known/jwks.json)
  Grafana      http://grafana.localtest.me:$HOST_PORT   admin / $grafana_password
EOT
[[ "$PROFILE" == full ]] && echo "  Kibana       http://kibana.localtest.me:$HOST_PORT    elastic / $es_password"
[[ "$LOADTEST" == 1 ]] && echo "  Locust       make locust   (web UI through a port-forward on http://localhost:8089)"
cat <<EOT
  First admin  ${admin_email:-?} / ${admin_password:-?}

  make status | make logs SERVICE=worker | make grafana | make down
EOT
