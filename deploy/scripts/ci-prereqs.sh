#!/usr/bin/env bash
# Everything the deploy checks (tests/deploy) need on a fresh Debian machine,
# idempotent: Docker engine and debootstrap from apt, a running dockerd, helm
# and the check tools (install-tools.sh), and the Python base image built
# locally (for air-gapped / registry-less builds) when the official one cannot
# be pulled. Run as root. Then: SANDBOX_REQUIRE_DOCKER=1 pytest tests/deploy
set -euo pipefail
cd "$(dirname "$0")/../.."

log() { printf '==> %s\n' "$*" >&2; }

need_apt=()
command -v dockerd >/dev/null 2>&1 || need_apt+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need_apt+=(debootstrap)
command -v go >/dev/null 2>&1 || [[ -x /usr/local/go/bin/go ]] || need_apt+=(golang-go)
python3 -c 'import ensurepip' 2>/dev/null || need_apt+=(python3-venv)
# A docker CLI of 23+ needs the buildx plugin for BuildKit (Debian 13 ships it apart).
if command -v docker >/dev/null 2>&1 && ! docker buildx version >/dev/null 2>&1; then
  major="$(docker version --format '{{.Client.Version}}' 2>/dev/null | cut -d. -f1 || true)"
  if [[ "$major" =~ ^[0-9]+$ ]] && (( major >= 23 )) && ! /usr/bin/docker buildx version >/dev/null 2>&1; then
    apt-cache show docker-buildx >/dev/null 2>&1 && need_apt+=(docker-buildx)
  fi
fi
if ((${#need_apt[@]})); then
  log "apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  log "starting dockerd"
  mkdir -p /var/log
  nohup dockerd >/var/log/sandbox-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { tail -n 30 /var/log/sandbox-dockerd.log >&2; echo "error: dockerd did not start" >&2; exit 1; }
fi

SKIP_KIND="${SKIP_KIND:-1}" bash deploy/scripts/install-tools.sh

# The base image: the official one when it is here or can be pulled (not with
# SANDBOX_PULL=0), else one built from the Debian mirror apt uses.
python_image="${PYTHON_IMAGE:-python:3.12-slim}"
if docker image inspect "$python_image" >/dev/null 2>&1 \
   || { [[ "${SANDBOX_PULL:-1}" != 0 ]] && timeout 60 docker pull -q "$python_image" >/dev/null 2>&1; }; then
  echo "$python_image" > .tools/python-image
else
  log "$python_image cannot be pulled; building a local base image"
  bash docker/base/build-base.sh > .tools/python-image
fi
log "base image: $(cat .tools/python-image)"
