#!/usr/bin/env bash
# The README's quick start on a fresh Debian, as a newcomer would type it:
#
#   1. a clean Debian root (debootstrap, minbase, plus sudo and CA
#      certificates as any installed system has), imported into Docker;
#   2. a user with sudo, who runs the quick start's own lines, taken from
#      README.md (not copied here, so this breaks when the README drifts): the
#      install and clone lines, then `make local-up`;
#   3. one request through each service (tests/quickstart/first_requests.py),
#      then the README's `make local-down`.
# The quick start's other make lines (test, seed, loadtest, local-grafana)
# are left out: CI runs `make test` on the host itself, and the rest only add
# minutes.
#
# Needs root, Docker and debootstrap; the container uses the host's network
# and the registries the host's apt, pip and Go are configured with.
# Usage: bash tests/quickstart/run.sh [SUITE]   (bookworm by default; trixie)
set -euo pipefail
cd "$(dirname "$0")/../.."
SUITE="${1:-${SUITE:-bookworm}}"
IMAGE="sandbox-quickstart/debian:$SUITE"
log() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
started=$(date +%s)

[[ $(id -u) == 0 ]] || die "run as root (debootstrap and Docker)"
docker info >/dev/null 2>&1 || die "no Docker engine answers: start dockerd"
# The container shares the host's network: the stack it starts needs the same ports.
# (Another program on one of them is named by the quick start's own make local-up.)
if python3 -c 'import sys; sys.path.insert(0, "scripts"); import stack; sys.exit(not stack.stack_is_up())'; then
  die "a local stack runs on this machine (make local-down first): the quick start needs its ports"
fi

if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
  command -v debootstrap >/dev/null || die "debootstrap not found: apt-get install -y debootstrap"
  mirror="$(bash docker/base/debian-mirror.sh)"
  log "a clean Debian $SUITE root (debootstrap from $mirror)"
  root="$(mktemp -d)"
  trap 'rm -rf "$root"' EXIT
  debootstrap --variant=minbase --include=sudo,ca-certificates "$SUITE" "$root/fs" "$mirror" \
    >"$root/debootstrap.log" 2>&1 || { tail -n 30 "$root/debootstrap.log" >&2; die "debootstrap failed"; }
  tar --numeric-owner -C "$root/fs" -c . | docker import --change 'ENV LANG=C.UTF-8' - "$IMAGE" >/dev/null
  rm -rf "$root"
  trap - EXIT
fi

work="$(mktemp -d)"
chmod 755 "$work"  # the newcomer reads it
trap 'rm -rf "$work"' EXIT
git bundle create "$work/sandbox.bundle" HEAD 2>/dev/null
cp tests/quickstart/first_requests.py "$work/"

# The quick start's lines, as the README has them.
python3 - "$work/steps.sh" <<'PY'
import re
import sys
from pathlib import Path

readme = Path("README.md").read_text()
section = readme.split("\n## Quick start\n", 1)[1]
block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
lines = [line.split("#", 1)[0].strip() for line in block.splitlines()]
lines = [line for line in lines if line]
install = [line for line in lines if not line.startswith("make ")]
assert any("git clone <this repository>" in line for line in install), install
for needed in ("make local-up", "make local-down"):
    assert needed in lines, f"the quick start lost {needed!r}"
steps = ["set -euxo pipefail", "cd ~"]
steps += [line.replace("<this repository>", "/quickstart/sandbox.bundle") for line in install]
steps += ["make local-up", ".venv/bin/python /quickstart/first_requests.py", "make local-down"]
Path(sys.argv[1]).write_text("\n".join(steps) + "\n")
PY
log "the quick start, as the README has it:"
sed 's/^/    /' "$work/steps.sh" >&2

# The registries, reached as the host reaches them.
env_args=()
for name in $(env | sed -n -E 's/^((PIP|UV)_[A-Z_]+|[Hh][Tt][Tt][Pp][Ss]?_[Pp][Rr][Oo][Xx][Yy]|[Nn][Oo]_[Pp][Rr][Oo][Xx][Yy])=.*/\1/p'); do
  [[ "$name" == PIP_FIND_LINKS ]] || env_args+=(-e "$name")  # (a directory of the host's)
done
go_cmd="$(command -v go || ls /usr/local/go/bin/go 2>/dev/null || true)"
if [[ -n "$go_cmd" ]]; then
  for name in GOPROXY GOSUMDB GONOSUMDB GOPRIVATE; do
    value="$("$go_cmd" env "$name")"
    [[ -z "$value" ]] || env_args+=(-e "$name=$value")
  done
fi
[[ ! -r /etc/pip.conf ]] || env_args+=(-v /etc/pip.conf:/etc/pip.conf:ro)
# The certificate authorities the host trusts beyond Debian's (a TLS-inspecting proxy's, say).
[[ ! -d /usr/local/share/ca-certificates ]] \
  || env_args+=(-v /usr/local/share/ca-certificates:/usr/local/share/ca-certificates:ro)

log "Debian $SUITE: the quick start as user 'newcomer' (with sudo)"
# (DEBIAN_FRONTEND: nobody is at a terminal to answer a package's question.)
docker run --rm --network host -v "$work:/quickstart:ro" -e DEBIAN_FRONTEND=noninteractive \
  "${env_args[@]}" "$IMAGE" bash -euc '
  update-ca-certificates >/dev/null
  useradd --create-home --shell /bin/bash newcomer
  echo "newcomer ALL=(ALL) NOPASSWD:ALL" > /etc/sudoers.d/newcomer
  cd /home/newcomer
  exec sudo --preserve-env --set-home -u newcomer bash /quickstart/steps.sh
'
log "the quick start passed on Debian $SUITE in $(( $(date +%s) - started ))s"
