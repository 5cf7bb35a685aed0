#!/usr/bin/env bash
# Builds the sandbox image as $IMAGE for the host architecture. The base is
# $PYTHON_IMAGE when present or pullable, else the locally built Debian base.
set -euo pipefail
cd "$(dirname "$0")/../.."
IMAGE="${IMAGE:?}"
PYTHON_IMAGE="${PYTHON_IMAGE:-python:3.12-slim}"
if ! docker image inspect "$PYTHON_IMAGE" >/dev/null 2>&1 && ! timeout 60 docker pull -q "$PYTHON_IMAGE" >/dev/null 2>&1; then
  echo "==> $PYTHON_IMAGE cannot be pulled; using a locally built base image" >&2
  PYTHON_IMAGE="$(bash docker/base/build-base.sh)"
fi
PYTHON_IMAGE="$PYTHON_IMAGE" bash docker/build.sh "$IMAGE"
