#!/usr/bin/env bash
# `make down`: delete the kind cluster, or the minikube profile.
set -euo pipefail
: "${CLUSTER:=kind}" "${CLUSTER_NAME:=sandbox}" "${KIND:=kind}"
if [[ "$CLUSTER" == kind ]]; then
  if "$KIND" get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME"; then
    "$KIND" delete cluster --name "$CLUSTER_NAME"
  else
    echo "no kind cluster named $CLUSTER_NAME"
  fi
else
  minikube delete -p "$CLUSTER_NAME"
fi
