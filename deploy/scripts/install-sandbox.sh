#!/usr/bin/env bash
# Installs (or upgrades) the sandbox chart the way `make up` does: the
# namespace labelled for the restricted Pod Security Standard, the profile's
# values, the loaded image, then `helm upgrade --install --wait`. up.sh and
# the cluster tests (tests/cluster) both call it, so they install alike.
#   VALUES="ci/kind-values.yaml [more...]" IMAGE_REPOSITORY=... IMAGE_TAG=... install-sandbox.sh [HELM ARGS...]
# (VALUES: paths relative to deploy/helm/sandbox, or absolute)
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${NAMESPACE:=sandbox}" "${RELEASE:=sandbox}" "${TIMEOUT:=20m}" "${HELM:=helm}" "${KUBECTL:=kubectl}"
: "${VALUES:?space-separated values files, relative to deploy/helm/sandbox}" "${IMAGE_REPOSITORY:?}" "${IMAGE_TAG:?}"
: "${PROGRESS:=1}"

"$KUBECTL" create namespace "$NAMESPACE" --dry-run=client -o yaml | "$KUBECTL" apply -f - >/dev/null
# Every pod of the sandbox must meet the restricted Pod Security Standard.
"$KUBECTL" label namespace "$NAMESPACE" --overwrite \
  pod-security.kubernetes.io/enforce=restricted pod-security.kubernetes.io/warn=restricted >/dev/null
args=(upgrade --install "$RELEASE" deploy/helm/sandbox -n "$NAMESPACE")
for file in $VALUES; do [[ "$file" == /* ]] && args+=(-f "$file") || args+=(-f "deploy/helm/sandbox/$file"); done
args+=(--set image.repository="$IMAGE_REPOSITORY" --set image.tag="$IMAGE_TAG" "$@" --wait --timeout "$TIMEOUT")
if [[ "$PROGRESS" != 1 ]]; then
  exec "$HELM" "${args[@]}" 2> >(grep -v 'found symbolic link' >&2)
fi
"$HELM" "${args[@]}" 2> >(grep -v 'found symbolic link' >&2) >/dev/null &
helm_pid=$!
while kill -0 "$helm_pid" 2>/dev/null; do
  ready="$("$KUBECTL" -n "$NAMESPACE" get pods --no-headers 2>/dev/null | awk '$2 ~ /^([0-9]+)\/\1$/ && $3 == "Running"' | wc -l)"
  total="$("$KUBECTL" -n "$NAMESPACE" get pods --no-headers 2>/dev/null | grep -vc Completed || true)"
  printf '\r    %s/%s pods ready ' "$ready" "$total" >&2
  sleep 5
done
echo >&2
wait "$helm_pid" || { "$KUBECTL" -n "$NAMESPACE" get pods >&2; exit 1; }
