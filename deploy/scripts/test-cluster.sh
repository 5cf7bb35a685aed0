#!/usr/bin/env bash
# `make test-cluster`: the cluster tests (tests/cluster) on a real Kubernetes.
#   CLUSTER=kind   a kind cluster of its own (sandbox-test), made as `make up` makes one
#   CLUSTER=bare   the bare single-node cluster of deploy/bare/ (root on Linux;
#                  for machines where kind cannot run, e.g. with no image registry)
#   CLUSTER=auto   kind when kind and Docker are there, else skip with a message
# SANDBOX_REQUIRE_CLUSTER=1 turns "no cluster" into a failure (CI sets it).
# KEEP_CLUSTER=1 leaves the cluster running afterwards (down: make test-cluster-down).
# shellcheck disable=SC2031  # up.sh is sourced in a subshell on purpose: its settings stay there
set -euo pipefail
cd "$(dirname "$0")/../.."

: "${CLUSTER:=auto}" "${HELM:=helm}" "${KIND:=kind}" "${IMAGE:?}" "${LOADTEST_IMAGE:?}" "${KPS_VERSION:?}"
command -v "$HELM" >/dev/null 2>&1 || [[ ! -x .tools/bin/helm ]] || HELM="$PWD/.tools/bin/helm"
: "${PYTEST:=.venv/bin/pytest}" "${PYTEST_ARGS:=}" "${KEEP_CLUSTER:=0}"
KIND_CLUSTER=sandbox-test
start=$SECONDS
phase_start=$SECONDS
step() { printf '\n==> [%4ss] %s\n' "$((SECONDS - start))" "$*" >&2; }
phase() {  # the time of the previous phase, for the notes on cold and warm runs
  printf '    (%s: %ss)\n' "$1" "$((SECONDS - phase_start))" >&2
  phase_start=$SECONDS
}
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

skip() {
  printf '\nskipped the cluster tests: %s\n' "$1" >&2
  printf '  run them with: make test-cluster CLUSTER=kind (kind and Docker), or as root on Linux: make test-cluster CLUSTER=bare\n' >&2
  [[ "${SANDBOX_REQUIRE_CLUSTER:-0}" != 1 ]] || die "SANDBOX_REQUIRE_CLUSTER=1 and no cluster could be had"
  exit 0
}

if [[ "$CLUSTER" == auto ]]; then
  command -v "$KIND" >/dev/null 2>&1 || skip "no kind on this machine"
  docker info >/dev/null 2>&1 || skip "no Docker engine answers on this machine"
  # kind runs only where its pinned node image is here or can be pulled (not with SANDBOX_PULL=0).
  node_image="$(sed -n -E 's/^[[:space:]]*image:[[:space:]]*(kindest\/node:[^[:space:]]+)$/\1/p' deploy/k8s/kind-config.yaml)"
  docker image inspect "$node_image" >/dev/null 2>&1 \
    || { [[ "${SANDBOX_PULL:-1}" != 0 ]] && timeout 900 docker pull -q "$node_image" >/dev/null 2>&1; } \
    || skip "kind's node image $node_image is not here and cannot be pulled"
  CLUSTER=kind
fi

teardown() {
  local status=$?
  if [[ "$KEEP_CLUSTER" == 1 ]]; then
    step "leaving the $CLUSTER cluster running (KEEP_CLUSTER=1)"
    exit "$status"
  fi
  step "tearing the $CLUSTER cluster down"
  if [[ "$CLUSTER" == bare ]]; then
    bash deploy/bare/cluster.sh down || status=1
    # Teardown must leave the host as it found it; anything left fails the run.
    bash deploy/bare/cluster.sh check || status=1
  else
    "$KIND" delete cluster --name "$KIND_CLUSTER" >/dev/null 2>&1 || true
  fi
  phase teardown
  step "cluster tests finished in $((SECONDS - start))s"
  exit "$status"
}

step "building the images"
IMAGE="$IMAGE" LOADTEST_IMAGE="$LOADTEST_IMAGE" bash deploy/scripts/images.sh >/dev/null
phase images

values="ci/kind-values.yaml"
case "$CLUSTER" in
  bare)
    step "the bare cluster (build cached under .tools/bare/)"
    bash deploy/bare/prereqs.sh
    bash deploy/bare/build.sh all
    phase build
    mapfile -t standins < <(bash deploy/bare/images.sh)
    standin_values="$PWD/.local/bare-standin-values.yaml"
    "${PYTHON:-.venv/bin/python}" deploy/bare/standin_values.py "$(bash deploy/bare/images.sh list)" >"$standin_values"
    # Each stand-in keeps its official image's contract, checked with Docker alone.
    bash deploy/bare/test-images.sh
    phase "stand-in images"
    trap teardown EXIT
    bash deploy/bare/cluster.sh up
    phase "cluster up"
    eval "$(bash deploy/bare/cluster.sh env)"
    export KUBECONFIG KUBECTL
    bash deploy/bare/crds.sh apply
    bash deploy/bare/cluster.sh import "$IMAGE" "$LOADTEST_IMAGE" "${standins[@]}"
    phase "CRDs and images"
    # The monitoring make up installs with kube-prometheus-stack: the operator
    # and a Prometheus with our values' selectors (deploy/bare/monitoring.py).
    step "the Prometheus Operator and Prometheus"
    "${PYTHON:-.venv/bin/python}" deploy/bare/monitoring.py "$(bash deploy/bare/images.sh list)" |
      "$KUBECTL" apply --server-side --field-manager=sandbox-bare -f - >/dev/null
    "$KUBECTL" -n monitoring rollout status deploy/kps-kube-prometheus-stack-operator --timeout=180s
    phase monitoring
    # The kind profile, with the datastores and exporters from the stand-ins.
    values+=" $standin_values"
    ;;
  kind)
    trap teardown EXIT
    # make up's own steps (deploy/scripts/up.sh), on a cluster of the tests'
    # own with a kubeconfig of its own, so a make up cluster and the user's
    # kubectl context are left alone.
    KUBECONFIG="$PWD/.local/kind-test.kubeconfig"
    mkdir -p .local && export KUBECONFIG
    KUBECTL=kubectl
    export KUBECTL
    step "kind cluster $KIND_CLUSTER"
    (
      # In a subshell: up.sh brings its own step/die and settings.
      # shellcheck source=deploy/scripts/up.sh
      CLUSTER=kind CLUSTER_NAME="$KIND_CLUSTER" HOST_PORT="${TEST_HOST_PORT:-18080}" source deploy/scripts/up.sh
      create_cluster
      for ref in "$IMAGE" "$LOADTEST_IMAGE"; do cluster_load "$ref"; done
      # Monitoring as make up installs it (the sandbox's ServiceMonitors need its CRDs).
      install_kps
    )
    phase "cluster up"
    ;;
  *) die "CLUSTER must be auto, kind or bare, not $CLUSTER" ;;
esac

step "cluster tests (pytest -m cluster)"
# shellcheck disable=SC2086  # PYTEST_ARGS is a list of words
SANDBOX_TEST_CLUSTER="$CLUSTER" SANDBOX_TEST_KUBECONFIG="$KUBECONFIG" SANDBOX_TEST_KUBECTL="$KUBECTL" \
  SANDBOX_TEST_HELM="$HELM" SANDBOX_TEST_VALUES="$values" SANDBOX_TEST_IMAGE="$IMAGE" \
  SANDBOX_TEST_LOADTEST_IMAGE="$LOADTEST_IMAGE" SANDBOX_REQUIRE_CLUSTER=1 \
  "$PYTEST" tests/cluster -m cluster -p no:cacheprovider --timeout 1200 $PYTEST_ARGS
phase "cluster tests"
