#!/usr/bin/env bash
# Builds an image for the host architecture and prints its reference.
#
#   docker/build.sh [IMAGE_REF]            # the service image (docker/Dockerfile),
#                                          # default microservices-sandbox:<chart appVersion>
#   docker/build.sh loadtest [IMAGE_REF]   # Locust with loadtests/ (docker/Dockerfile.loadtest),
#                                          # default microservices-sandbox-loadtest:<chart appVersion>
#
# Environment:
#   PYTHON_IMAGE  base image (default: python:3.12-slim; if that is not present
#                 locally and no registry answers, build one with
#                 docker/base/build-base.sh and pass its tag here)
#   CA_BUNDLE     CA bundle handed to pip as a build secret (default: the host's
#                 bundle when it exists), for TLS-intercepting proxies
#   PIP_INDEX_URL optional package index mirror
set -euo pipefail
cd "$(dirname "$0")/.."

die() { printf 'error: %s\n' "$*" >&2; exit 1; }

app_version="$(awk '/^appVersion:/ { gsub(/"/, "", $2); print $2 }' deploy/helm/sandbox/Chart.yaml 2>/dev/null || true)"
if [[ "${1:-}" == loadtest ]]; then
  shift
  DOCKERFILE=docker/Dockerfile.loadtest
  IMAGE_REF="${1:-microservices-sandbox-loadtest:${app_version:-0.1.0}}"
else
  DOCKERFILE=docker/Dockerfile
  IMAGE_REF="${1:-${IMAGE_REF:-microservices-sandbox:${app_version:-0.1.0}}}"
fi
PYTHON_IMAGE="${PYTHON_IMAGE:-python:3.12-slim}"
CA_BUNDLE="${CA_BUNDLE-/etc/ssl/certs/ca-certificates.crt}"

# BuildKit is needed for the secret mount. A docker CLI with the buildx plugin
# does it; an older CLI (< 23) does it itself with DOCKER_BUILDKIT=1.
pick_docker() {
  local candidate major
  for candidate in docker /usr/bin/docker /usr/local/bin/docker; do
    command -v "$candidate" >/dev/null 2>&1 || continue
    if "$candidate" buildx version >/dev/null 2>&1; then echo "$candidate"; return; fi
    major="$("$candidate" version --format '{{.Client.Version}}' 2>/dev/null | cut -d. -f1)"
    if [[ "$major" =~ ^[0-9]+$ ]] && (( major < 23 )); then echo "$candidate"; return; fi
  done
  return 1
}
DOCKER="$(pick_docker)" || die "no docker CLI that can use BuildKit: install the buildx plugin (apt-get install -y docker-buildx) or docker.io"
"$DOCKER" info >/dev/null 2>&1 || die "no Docker engine answers: start dockerd or Docker Desktop"

args=(build -f "$DOCKERFILE" -t "$IMAGE_REF"
      --build-arg "PYTHON_IMAGE=$PYTHON_IMAGE" --build-arg "VERSION=${app_version:-0.1.0}")
[[ -n "${PIP_INDEX_URL:-}" ]] && args+=(--build-arg "PIP_INDEX_URL=$PIP_INDEX_URL")
if [[ -n "$CA_BUNDLE" && -r "$CA_BUNDLE" ]]; then
  args+=(--secret "id=ca,src=$CA_BUNDLE")
fi
[[ -n "${DOCKER_BUILD_ARGS:-}" ]] && read -r -a extra <<<"$DOCKER_BUILD_ARGS" && args+=("${extra[@]}")

printf '==> building %s (%s) from %s\n' "$IMAGE_REF" "$DOCKERFILE" "$PYTHON_IMAGE" >&2
DOCKER_BUILDKIT=1 "$DOCKER" "${args[@]}" . >&2
echo "$IMAGE_REF"
