#!/usr/bin/env bash
# For the plain manifests (deploy/k8s/sandbox/): creates the two Secrets the
# chart would otherwise generate, once; existing ones are kept.
#   NAMESPACE=sandbox ADMIN_EMAIL=admin@sandbox.example.com deploy/scripts/create-secrets.sh
set -euo pipefail
: "${NAMESPACE:=sandbox}" "${KUBECTL:=kubectl}" "${ADMIN_EMAIL:=admin@sandbox.example.com}"
password() { python3 -c 'import secrets, string; a = string.ascii_letters + string.digits; print("".join(secrets.choice(a) for _ in range(32)))'; }
"$KUBECTL" create namespace "$NAMESPACE" --dry-run=client -o yaml | "$KUBECTL" apply -f - >/dev/null
if ! "$KUBECTL" -n "$NAMESPACE" get secret sandbox-credentials >/dev/null 2>&1; then
  "$KUBECTL" -n "$NAMESPACE" create secret generic sandbox-credentials \
    --from-literal=admin-email="$ADMIN_EMAIL" \
    --from-literal=admin-password="$(password)" \
    --from-literal=postgres-user-password="$(password)" \
    --from-literal=postgres-catalog-password="$(password)" \
    --from-literal=mongo-password="$(password)" \
    --from-literal=redis-password="$(password)"
fi
if ! "$KUBECTL" -n "$NAMESPACE" get secret sandbox-jwt >/dev/null 2>&1; then
  key="$(mktemp)"; trap 'rm -f "$key"' EXIT
  openssl genpkey -algorithm ed25519 -out "$key"
  "$KUBECTL" -n "$NAMESPACE" create secret generic sandbox-jwt --from-file=private-key.pem="$key"
fi
