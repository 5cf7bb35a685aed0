#!/usr/bin/env bash
# `make up`: a kind (or minikube) cluster with the platform and the sandbox,
# idempotent: every step is an upgrade of what is already there.
#   CLUSTER=kind|minikube  PROFILE=full|lite  LOADTEST=0|1  (see deploy/deploy.mk for the rest)
# Sourcing it defines the steps without running them (tests/deploy do).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

: "${CLUSTER:=kind}" "${PROFILE:=full}" "${CLUSTER_NAME:=sandbox}" "${NAMESPACE:=sandbox}"
: "${RELEASE:=sandbox}" "${HOST_PORT:=8080}" "${TIMEOUT:=20m}" "${HELM:=helm}" "${KIND:=kind}"
: "${KUBECTL:=kubectl}" "${IMAGE:=}" "${PYTHON_IMAGE:=python:3.12-slim}"
# LOADTEST=1 also builds and loads the Locust image and enables the chart's
# `loadtest` block (master + workers); HELM_ARGS go to the sandbox release.
: "${LOADTEST:=0}" "${LOADTEST_IMAGE:=microservices-sandbox-loadtest:${IMAGE##*:}}" "${HELM_ARGS:=}"

P=deploy/platform
start=$(date +%s)
step() { printf '\n\033[1m==> [%3ss] %s\033[0m\n' "$(( $(date +%s) - start ))" "$*" >&2; }
die() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# --- prerequisites ---------------------------------------------------------
# Kind before 0.32 writes kubeadm v1beta3 for every node version, which the
# pinned node (Kubernetes 1.36 and later) refuses; 0.32 writes v1beta4 there.
KIND_MIN=0.32.0
# minikube runs a Kubernetes it supports, inside Envoy Gateway v1.9.0's tested
# range (1.33-1.36); 1.38.0 is the first minikube whose newest is 1.35.0.
MINIKUBE_MIN=1.38.0
MINIKUBE_KUBERNETES_VERSION=v1.35.0
# The Kubernetes version the cluster runs: kind's pinned node image, or the
# version minikube is started with.
cluster_kubernetes_version() {
  if [[ "$CLUSTER" == kind ]]; then
    sed -n 's|.*kindest/node:v\([0-9.]*\)@.*|\1|p' deploy/k8s/kind-config.yaml | head -n1
  else
    echo "${MINIKUBE_KUBERNETES_VERSION#v}"
  fi
}
# kubectl is supported within one minor version of the API server.
kubectl_min() {
  local major minor
  IFS=. read -r major minor _ <<<"$(cluster_kubernetes_version)"
  echo "$major.$(( minor - 1 ))"
}
version_at_least() { [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" == "$2" ]]; }
need() {  # need CMD MIN_VERSION VERSION_COMMAND HINT
  local cmd="$1" min="$2" probe="$3" hint="$4" have
  command -v "$cmd" >/dev/null 2>&1 || [[ -x "$cmd" ]] || die "$cmd not found: $hint"
  have="$(eval "$probe" 2>/dev/null | grep -Eo '[0-9]+\.[0-9]+(\.[0-9]+)?' | head -n1 || true)"
  [[ -n "$have" ]] || die "cannot tell the version of $cmd: $hint"
  version_at_least "$have" "$min" || die "$cmd $have is older than $min: $hint"
}
check_prerequisites() {
  step "checking prerequisites ($CLUSTER, profile $PROFILE)"
  [[ "$PROFILE" == full || "$PROFILE" == lite ]] || die "PROFILE must be full or lite, not $PROFILE"
  [[ "$LOADTEST" == 0 || "$LOADTEST" == 1 ]] || die "LOADTEST must be 0 or 1, not $LOADTEST"
  case "$CLUSTER" in kind|minikube) ;; *) die "CLUSTER must be kind or minikube, not $CLUSTER" ;; esac
  need docker 20.10 "docker version --format '{{.Client.Version}}'" "install Docker (apt-get install -y docker.io) and start it"
  docker info >/dev/null 2>&1 || die "the Docker engine does not answer: start Docker (sudo systemctl start docker, or Docker Desktop)"
  # kind's warning about cgroup v1 means this: its node runs Kubernetes, whose
  # kubelet refuses cgroup v1 by default since 1.35, so the cluster would never come up.
  if [[ "$CLUSTER" == kind && "$(docker info --format '{{.CgroupVersion}}' 2>/dev/null || true)" == 1 ]]; then
    die "Docker runs on cgroup v1 here, and the Kubernetes $(cluster_kubernetes_version) node kind starts does not: its kubelet refuses cgroup v1 (kind warns that cgroup v1 is deprecated). Switch the host to cgroup v2 (boot with systemd.unified_cgroup_hierarchy=1; Debian 11+, Ubuntu 21.10+ and Docker Desktop use it by default), or run make local-up, which needs no cluster"
  fi
  need "$KUBECTL" "$(kubectl_min)" "$KUBECTL version --client" \
    "the cluster runs Kubernetes $(cluster_kubernetes_version); install kubectl $(kubectl_min) or later: https://kubernetes.io/docs/tasks/tools/"
  need "$HELM" 3.14 "$HELM version --short" "run make deploy-tools (builds helm into .tools/bin) or install Helm 3"
  case "$CLUSTER" in
    kind) need "$KIND" "$KIND_MIN" "$KIND version" "run make deploy-tools (builds the pinned kind into .tools/bin) or install kind $KIND_MIN or later" ;;
    minikube) need minikube "$MINIKUBE_MIN" "minikube version --short" "install minikube $MINIKUBE_MIN or later: https://minikube.sigs.k8s.io/docs/start/" ;;
  esac
}

# --- cluster ---------------------------------------------------------------
create_cluster() {
  if [[ "$CLUSTER" == kind ]]; then
    if "$KIND" get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME"; then
      step "kind cluster $CLUSTER_NAME exists"
    else
      step "creating kind cluster $CLUSTER_NAME (localhost:$HOST_PORT -> gateway)"
      local config
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
      # Memory: the requests of the profile plus headroom (deploy/README.md, Resources per profile).
      local memory=10g
      [[ "$PROFILE" == lite ]] && memory=6g
      step "starting minikube profile $CLUSTER_NAME (Kubernetes $MINIKUBE_KUBERNETES_VERSION, $memory)"
      minikube start -p "$CLUSTER_NAME" --kubernetes-version="$MINIKUBE_KUBERNETES_VERSION" \
        --cpus=4 --memory="$memory" --ports="127.0.0.1:$HOST_PORT:30080"
    fi
    "$KUBECTL" config use-context "$CLUSTER_NAME" >/dev/null
  fi
}

# --- images ----------------------------------------------------------------
# Into the cluster from the host's Docker. `kind load docker-image` fails
# with Docker's containerd image store (kind#3795); then through an archive.
cluster_load() {  # cluster_load REF
  local ref="$1" archive
  if [[ "$CLUSTER" != kind ]]; then
    minikube -p "$CLUSTER_NAME" image load "$ref" >&2 || die "minikube image load $ref failed"
    return
  fi
  "$KIND" load docker-image --name "$CLUSTER_NAME" "$ref" >&2 && return
  echo "kind load docker-image $ref failed; loading it through docker save + kind load image-archive" >&2
  archive="$(mktemp --suffix=.tar)"
  if docker save -o "$archive" "$ref" && "$KIND" load image-archive --name "$CLUSTER_NAME" "$archive" >&2; then
    rm -f "$archive"
    return
  fi
  rm -f "$archive"
  die "cannot load $ref into kind cluster $CLUSTER_NAME (docker save + kind load image-archive failed too)"
}
# A tag per image content, so an upgrade rolls the pods only when the image changed.
load_image() {  # load_image REF -> prints the tag it was loaded under
  local ref="$1" image_id tag
  image_id="$(docker image inspect --format '{{.Id}}' "$ref" | sed 's/^sha256://' | cut -c1-12)"
  tag="${ref##*:}-$image_id"
  docker tag "$ref" "${ref%:*}:$tag"
  step "loading ${ref%:*}:$tag into the cluster"
  cluster_load "${ref%:*}:$tag"
  echo "$tag"
}
# Third-party images are pulled on the host, where the user's registry login
# and Docker's cache apply, instead of anonymously by the node; a refused pull
# stops here with the image and the registry's answer.
pull_image() {  # pull_image REF
  local ref="$1" error
  docker image inspect "$ref" >/dev/null 2>&1 && return
  step "pulling $ref"
  if ! error="$(docker pull -q "$ref" 2>&1 >/dev/null)"; then
    case "$error" in
      *toomanyrequests*|*"rate limit"*)
        die "pulling $ref was refused: the registry's pull rate limit ($error). Log in (docker login) so your account's limit applies, or wait, then run make up again" ;;
      *unauthorized*|*denied*)
        die "pulling $ref was refused ($error): log in to its registry (docker login) and run make up again" ;;
      *)
        die "cannot pull $ref ($error): check the network and the registry, then run make up again" ;;
    esac
  fi
}
# The datastore and exporter images the sandbox chart runs (all but ours).
chart_images() {  # chart_images VALUES_FILE [HELM ARGS...]
  local values="$1"; shift
  rendered_images "$("$HELM" template "$RELEASE" deploy/helm/sandbox -n "$NAMESPACE" \
    --kube-version "$(cluster_kubernetes_version)" -f "deploy/helm/sandbox/$values" "$@" 2>/dev/null)" \
    | grep -v -e "^${IMAGE%:*}:" -e "^${LOADTEST_IMAGE%:*}:" || true
}

# --- platform --------------------------------------------------------------
grafana_url() { echo "http://grafana.localtest.me:$HOST_PORT"; }
kibana_url() { echo "http://kibana.localtest.me:$HOST_PORT"; }
helm_up() {  # helm_up RELEASE NAMESPACE CHART VERSION REPO [VALUES_FILE | --set ARG]...
  local release="$1" ns="$2" chart="$3" version="$4" repo="$5"; shift 5
  local args=(upgrade --install "$release" "$chart" --version "$version" -n "$ns" --create-namespace --wait --timeout "$TIMEOUT")
  [[ -n "$repo" ]] && args+=(--repo "$repo")
  while (( $# )); do
    if [[ "$1" == --set* ]]; then args+=("$1" "$2"); shift 2; else args+=(-f "$1"); shift; fi
  done
  # What the chart runs is pulled on the host first and loaded (pull_image).
  local image
  for image in $(rendered_images "$("$HELM" template "${args[@]:2}" --kube-version "$(cluster_kubernetes_version)" 2>/dev/null)"); do
    pull_image "$image"
    cluster_load "$image"
  done
  step "helm $release ($chart $version) in $ns"
  "$HELM" "${args[@]}" >/dev/null
}
# kube-prometheus-stack (the Prometheus Operator, Prometheus and Grafana) with
# our values, and any more values files or --set pairs given
install_kps() {
  helm_up kps monitoring kube-prometheus-stack "$KPS_VERSION" https://prometheus-community.github.io/helm-charts \
    "$P/kube-prometheus-stack.yaml" "$@"
}
# The images ECK runs for our Elasticsearch and Kibana: its default repository
# for each, at the version deploy/platform/eck-stack.yaml asks for.
elastic_images() {
  awk '/^[^ #]/ { block = $1 }
       block == "eck-elasticsearch:" && /^  version:/ { print "docker.elastic.co/elasticsearch/elasticsearch:" $2 }
       block == "eck-kibana:" && /^  version:/ { print "docker.elastic.co/kibana/kibana:" $2 }' "$P/eck-stack.yaml"
}
# rendered_images YAML -> every image a manifest names (pods and the custom
# resources that carry one, e.g. Prometheus), once each
rendered_images() {
  sed -n -E 's/^[[:space:]-]*image:[[:space:]]*"?([^"[:space:]]+)"?[[:space:]]*$/\1/p' <<<"$1" |
    grep -E '^[a-z0-9.-]+(:[0-9]+)?/|^[a-z0-9._-]+:' | sort -u || true
}
# wait_for_health KIND NAME HEALTHY_REGEX MINUTES
wait_for_health() {
  local kind="$1" name="$2" healthy="$3" minutes="$4" health=""
  step "waiting for $kind $name (up to $minutes minutes)"
  for _ in $(seq 1 $(( minutes * 12 ))); do
    health="$("$KUBECTL" -n elastic-system get "$kind" "$name" -o jsonpath='{.status.health}' 2>/dev/null || true)"
    [[ "$health" =~ ^($healthy)$ ]] && { echo >&2; return; }
    printf '.' >&2; sleep 5
  done
  echo >&2
  "$KUBECTL" -n elastic-system get pods >&2 || true
  die "$kind $name is not healthy (health: ${health:-none}). See kubectl -n elastic-system describe $kind $name and the pod's logs; a pod OOMKilled or Pending means Docker (or minikube) needs more memory (deploy/README.md, Resources per profile)"
}

seed() {
  local deploy
  deploy="$("$KUBECTL" -n "$NAMESPACE" get deploy -o name \
    -l "app.kubernetes.io/instance=$RELEASE,app.kubernetes.io/component=catalog")"
  [[ -n "$deploy" ]] || die "no catalog Deployment of release $RELEASE in namespace $NAMESPACE"
  step "seeding the demo catalog ($deploy)"
  "$KUBECTL" -n "$NAMESPACE" exec "$deploy" -- sandbox-seed >/dev/null \
    || die "seeding failed (its error is above); run it again: $KUBECTL -n $NAMESPACE exec $deploy -- sandbox-seed"
}

main() {
  : "${IMAGE:?}" "${KPS_VERSION:?}" "${ECK_OPERATOR_VERSION:?}" "${ECK_STACK_VERSION:?}" "${FLUENT_BIT_VERSION:?}"
  : "${ENVOY_GATEWAY_VERSION:?}" "${METRICS_SERVER_VERSION:?}"
  check_prerequisites
  create_cluster

  local profile_values="ci/${CLUSTER}-values.yaml" loadtest_args=() loadtest_tag deployed_tag image
  [[ "$PROFILE" == lite ]] && profile_values="ci/lite-values.yaml"
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
  # shellcheck disable=SC2086  # HELM_ARGS is a list of words
  for image in $(chart_images "$profile_values" ${loadtest_args[@]+"${loadtest_args[@]}"} $HELM_ARGS); do
    pull_image "$image"
    step "loading $image into the cluster"
    cluster_load "$image"
  done

  helm_up metrics-server kube-system metrics-server "$METRICS_SERVER_VERSION" https://kubernetes-sigs.github.io/metrics-server/ "$P/metrics-server.yaml"
  helm_up eg envoy-gateway-system oci://docker.io/envoyproxy/gateway-helm "$ENVOY_GATEWAY_VERSION" "" "$P/envoy-gateway.yaml"
  for image in $(rendered_images "$(cat "$P/gateway.yaml")"); do  # the proxy Envoy Gateway starts
    pull_image "$image"
    cluster_load "$image"
  done
  "$KUBECTL" apply -f "$P/gateway.yaml" >/dev/null

  local kps_values=(--set "grafana.grafana\.ini.server.root_url=$(grafana_url)") es_password=""
  if [[ "$PROFILE" == full ]]; then
    helm_up eck-operator elastic-system eck-operator "$ECK_OPERATOR_VERSION" https://helm.elastic.co "$P/eck-operator.yaml"
    for image in $(elastic_images); do  # ECK makes these pods, so no chart names their images
      pull_image "$image"
      cluster_load "$image"
    done
    helm_up eck elastic-system eck-stack "$ECK_STACK_VERSION" https://helm.elastic.co "$P/eck-stack.yaml" \
      --set "eck-kibana.config.server\.publicBaseUrl=$(kibana_url)"
    wait_for_health elasticsearch elasticsearch 'green|yellow' 10
    es_password="$("$KUBECTL" -n elastic-system get secret elasticsearch-es-elastic-user -o jsonpath='{.data.elastic}' | base64 -d)"
    local ns
    for ns in monitoring logging; do
      "$KUBECTL" create namespace "$ns" --dry-run=client -o yaml | "$KUBECTL" apply -f - >/dev/null
    done
    "$KUBECTL" -n monitoring create secret generic grafana-elasticsearch --from-literal=password="$es_password" --dry-run=client -o yaml | "$KUBECTL" apply -f - >/dev/null
    "$KUBECTL" -n logging create secret generic fluent-bit-elasticsearch --from-literal=password="$es_password" --dry-run=client -o yaml | "$KUBECTL" apply -f - >/dev/null
    kps_values+=("$P/kube-prometheus-stack-logs.yaml")
    # The index template and pipeline before the first line is shipped, so the
    # day's index is created with our mappings.
    step "installing the log index template, ILM policy and ingest pipeline"
    ES_PASSWORD="$es_password" KUBECTL="$KUBECTL" bash deploy/scripts/import-elastic.sh elasticsearch \
      || die "could not install the index template into Elasticsearch (above); run make up again"
  fi
  install_kps "${kps_values[@]}"
  "$KUBECTL" apply -f "$P/grafana-route.yaml" >/dev/null
  if [[ "$PROFILE" == full ]]; then
    helm_up fluent-bit logging fluent-bit "$FLUENT_BIT_VERSION" https://fluent.github.io/helm-charts "$P/fluent-bit.yaml" \
      --set-string "sandboxNamespace=$NAMESPACE"
    "$KUBECTL" apply -f "$P/kibana-route.yaml" >/dev/null
    wait_for_health kibana kibana green 10
    step "importing the Kibana data view and saved searches"
    ES_PASSWORD="$es_password" KUBECTL="$KUBECTL" bash deploy/scripts/import-elastic.sh kibana \
      || die "could not import the Kibana saved objects (above); run make up again, or bash deploy/scripts/import-elastic.sh kibana with ES_PASSWORD set"
  fi

  step "sandbox chart in namespace $NAMESPACE"
  step "waiting for the sandbox (timeout $TIMEOUT)"
  # shellcheck disable=SC2086  # HELM_ARGS is a list of words
  NAMESPACE="$NAMESPACE" RELEASE="$RELEASE" TIMEOUT="$TIMEOUT" HELM="$HELM" KUBECTL="$KUBECTL" \
    VALUES="$profile_values" IMAGE_REPOSITORY="${IMAGE%:*}" IMAGE_TAG="$deployed_tag" \
    bash deploy/scripts/install-sandbox.sh ${loadtest_args[@]+"${loadtest_args[@]}"} $HELM_ARGS \
    || die "the sandbox release did not become ready; see make status and make logs SERVICE=..."

  seed

  # --- what to open --------------------------------------------------------
  local admin_email admin_password grafana_password base
  admin_email="$("$KUBECTL" -n "$NAMESPACE" get secret "$RELEASE-credentials" -o jsonpath='{.data.admin-email}' 2>/dev/null | base64 -d || true)"
  admin_password="$("$KUBECTL" -n "$NAMESPACE" get secret "$RELEASE-credentials" -o jsonpath='{.data.admin-password}' 2>/dev/null | base64 -d || true)"
  grafana_password="$("$KUBECTL" -n monitoring get secret kps-grafana -o jsonpath='{.data.admin-password}' | base64 -d)"
  base="http://localhost:$HOST_PORT"
  cat <<EOT

The sandbox is up ($CLUSTER, profile $PROFILE) in $(( $(date +%s) - start ))s.

  API          $base/api/v1/products   (docs: $base/api/v1/... per service; JWKS: $base/.well-known/jwks.json)
  Grafana      $(grafana_url)   admin / $grafana_password
EOT
  [[ "$PROFILE" == full ]] && echo "  Kibana       $(kibana_url)    elastic / $es_password"
  [[ "$LOADTEST" == 1 ]] && echo "  Locust       make locust   (web UI through a port-forward on http://localhost:8089)"
  cat <<EOT
  First admin  ${admin_email:-?} / ${admin_password:-?}

  make status | make logs SERVICE=worker | make grafana | make down
EOT
}

[[ "${BASH_SOURCE[0]}" != "$0" ]] || main "$@"
