#!/usr/bin/env bash
# Builds, for the host architecture, the service image as $IMAGE and the
# Locust image as $LOADTEST_IMAGE (each only when set; one after the other,
# never in parallel). The base is $PYTHON_IMAGE when present or pullable,
# else the locally built Debian base (always, with SANDBOX_PULL=0).
set -euo pipefail
cd "$(dirname "$0")/../.."
IMAGE="${IMAGE:-}"
LOADTEST_IMAGE="${LOADTEST_IMAGE:-}"
[[ -n "$IMAGE" || -n "$LOADTEST_IMAGE" ]] || { echo "error: set IMAGE and/or LOADTEST_IMAGE" >&2; exit 2; }
command -v docker >/dev/null 2>&1 || { echo "error: Docker is needed to build the images: sudo apt-get install -y docker.io (macOS: Docker Desktop)" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "error: the Docker engine does not answer: start it (sudo systemctl start docker, or Docker Desktop)" >&2; exit 1; }
PYTHON_IMAGE="${PYTHON_IMAGE:-python:3.12-slim}"
if ! docker image inspect "$PYTHON_IMAGE" >/dev/null 2>&1 \
   && ! { [[ "${SANDBOX_PULL:-1}" != 0 ]] && timeout 60 docker pull -q "$PYTHON_IMAGE" >/dev/null 2>&1; }; then
  echo "==> $PYTHON_IMAGE cannot be pulled; using a locally built base image" >&2
  PYTHON_IMAGE="$(bash docker/base/build-base.sh)"
fi
[[ -z "$IMAGE" ]] || PYTHON_IMAGE="$PYTHON_IMAGE" bash docker/build.sh "$IMAGE"
[[ -z "$LOADTEST_IMAGE" ]] || PYTHON_IMAGE="$PYTHON_IMAGE" bash docker/build.sh loadtest "$LOADTEST_IMAGE"
