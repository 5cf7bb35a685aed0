#!/usr/bin/env bash
# Builds a minimal Debian + Python base image without pulling from a registry,
# for air-gapped and registry-less builds. The result stands in for the
# official python:3.12-slim through the PYTHON_IMAGE build argument:
#
#   docker/base/build-base.sh            # -> sandbox-base/python:3-bookworm
#   PYTHON_IMAGE=sandbox-base/python:3-bookworm docker/build.sh
#
# Packages come from the Debian mirror that apt on the host already uses
# (docker/base/debian-mirror.sh), so a host behind a local mirror works too.
# Idempotent: an existing image with the same tag is kept unless FORCE=1.
set -euo pipefail

SUITE="${SUITE:-bookworm}"
TAG="${BASE_IMAGE_TAG:-sandbox-base/python:3-${SUITE}}"
ARCH="${ARCH:-$(dpkg --print-architecture 2>/dev/null || echo amd64)}"
PACKAGES="python3,python3-venv,ca-certificates,tzdata"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

command -v docker >/dev/null || die "docker not found: apt-get install -y docker.io"
docker info >/dev/null 2>&1 || die "no Docker engine answers: start dockerd (or run deploy/scripts/ci-prereqs.sh)"

if [[ "${FORCE:-0}" != 1 ]] && docker image inspect "$TAG" >/dev/null 2>&1; then
  log "base image $TAG exists (FORCE=1 rebuilds it)"
  echo "$TAG"
  exit 0
fi

command -v debootstrap >/dev/null || die "debootstrap not found: apt-get install -y debootstrap"
[[ $(id -u) == 0 ]] || die "debootstrap needs root"

MIRROR="$(bash "$(dirname "$0")/debian-mirror.sh")"
log "debootstrap $SUITE ($ARCH) from $MIRROR"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
root="$work/root"

debootstrap --variant=minbase --arch="$ARCH" --include="$PACKAGES" "$SUITE" "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed (log above)"; }

# Trim what a container never reads: docs, man pages, translations, apt lists.
rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
  "$root"/usr/share/locale/* "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* \
  "$root"/var/log/* "$root"/tmp/* "$root"/dev/*
find "$root"/usr/lib/python3* -name __pycache__ -type d -prune -exec rm -rf {} + 2>/dev/null || true
# A Python runtime needs neither the package manager nor Perl nor glibc's iconv
# modules (Python has its own codecs); the image is rebuilt, never upgraded in place.
rm -rf "$root"/usr/lib/*-linux-gnu/gconv "$root"/usr/lib/*-linux-gnu/perl-base "$root"/usr/share/perl5 \
  "$root"/usr/bin/perl* "$root"/usr/lib/apt "$root"/usr/bin/apt* "$root"/usr/lib/*-linux-gnu/libapt-* \
  "$root"/var/lib/dpkg/info/*.md5sums "$root"/var/cache/debconf/*-old "$root"/usr/share/bash-completion \
  "$root"/usr/lib/python3.*/test "$root"/usr/lib/python3.*/lib2to3 "$root"/usr/lib/python3.*/pydoc_data

python_version="$(chroot "$root" python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
log "importing $TAG (Python $python_version)"
tar --numeric-owner -C "$root" -c . | docker import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  --change "LABEL org.opencontainers.image.description=\"Debian ${SUITE} minbase with Python ${python_version}\"" \
  - "$TAG" >/dev/null
echo "$TAG"
