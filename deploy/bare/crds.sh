#!/usr/bin/env bash
# The CustomResourceDefinitions the sandbox chart's objects need (HTTPRoute,
# ServiceMonitor, PrometheusRule, ...) on the bare test cluster, where no
# Envoy Gateway or kube-prometheus-stack chart brings them. They come from the
# source of Go modules, at the versions those charts ship on kind, pinned in
# one place each: Gateway API in deploy/bare/crds/go.mod, the Prometheus
# Operator in deploy/bare/modules/prometheus-operator/go.mod (the operator the
# cluster tests run is built from the same module):
#   - Gateway API: the channel Envoy Gateway's gateway-helm chart installs
#     (experimental; GATEWAY_API_CHANNEL=standard for the standard channel
#     alone), every CRD of config/crd/<channel>/;
#   - Prometheus Operator: every monitoring.coreos.com CRD of
#     example/prometheus-operator-crd/, the files kube-prometheus-stack's
#     crds subchart carries.
#   crds.sh files   the absolute paths of the CRD files, one a line
#   crds.sh apply   applies them server-side (some are past the size of the
#                   last-applied annotation) and waits until each is
#                   Established; kubectl is $KUBECTL, the cluster $KUBECONFIG's
set -euo pipefail
cd "$(dirname "$0")/../.."
source deploy/bare/lib.sh

KUBECTL="${KUBECTL:-kubectl}"
GATEWAY_API_CHANNEL="${GATEWAY_API_CHANNEL:-experimental}"
CRD_TIMEOUT="${CRD_TIMEOUT:-120s}"
GATEWAY_API=sigs.k8s.io/gateway-api
PROMETHEUS_OPERATOR=github.com/prometheus-operator/prometheus-operator

# source_dir DIR MODULE -> the directory of MODULE's source, at the version
# DIR/go.mod requires, downloaded (and checked against DIR/go.sum) when not
# in the module cache yet
source_dir() {
  local dir="$1" module="$2" version json
  version="$(module_version "$dir" "$module")" ||
    die "cannot read the version of $module that $dir/go.mod requires"
  json="$(cd "$dir" && "$GO" mod download -json "$module@$version")" ||
    die "cannot download $module@$version: $(sed -n 's/^[[:space:]]*"Error": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")"
  dir="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")"
  [[ -n "$dir" && -d "$dir" ]] || die "go mod download gave no directory for $module@$version"
  echo "$dir"
}

# crd_files DIR -> the files of DIR that define a CustomResourceDefinition
crd_files() {
  local file found=0
  for file in "$1"/*.yaml; do
    [[ -f "$file" ]] || continue
    grep -q '^kind: CustomResourceDefinition$' "$file" || continue
    echo "$file"; found=1
  done
  [[ "$found" == 1 ]] || die "no CRD files in $1"
}

files() {
  [[ "$GATEWAY_API_CHANNEL" == experimental || "$GATEWAY_API_CHANNEL" == standard ]] ||
    die "GATEWAY_API_CHANNEL must be experimental or standard, not $GATEWAY_API_CHANNEL"
  local gateway_api prometheus_operator
  gateway_api="$(source_dir deploy/bare/crds "$GATEWAY_API")"
  prometheus_operator="$(source_dir deploy/bare/modules/prometheus-operator "$PROMETHEUS_OPERATOR")"
  crd_files "$gateway_api/config/crd/$GATEWAY_API_CHANNEL"
  crd_files "$prometheus_operator/example/prometheus-operator-crd"
}

apply() {
  local out file names args=() list=()
  out="$(files)"
  mapfile -t list <<<"$out"
  for file in "${list[@]}"; do args+=(-f "$file"); done
  log "applying ${#list[@]} CRDs (Gateway API $GATEWAY_API_CHANNEL channel, Prometheus Operator)"
  names="$("$KUBECTL" apply --server-side --force-conflicts --field-manager=sandbox-bare-crds -o name "${args[@]}")"
  log "waiting for them to be Established"
  # shellcheck disable=SC2086  # one name a word
  "$KUBECTL" wait --for=condition=Established --timeout="$CRD_TIMEOUT" $names >/dev/null
}

case "${1:-}" in
  files) files ;;
  apply) apply ;;
  *) die "usage: $0 files|apply" ;;
esac
