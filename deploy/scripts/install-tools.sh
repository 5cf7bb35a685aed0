#!/usr/bin/env bash
# Installs the deploy tooling into .tools/ (never committed), idempotently:
#   .tools/bin/helm   helm, built from its Go module at a pinned version
#   .tools/bin/kind   kind, likewise (only `make up` needs it)
#   .tools/venv       checkov and kubernetes-validate, apart from the project
#                     venv because checkov pins many dependencies
# Needs Go (for helm/kind; scripts/go.sh) and python3 with venv. SKIP_KIND=1 skips kind.
set -euo pipefail
cd "$(dirname "$0")/../.."

HELM_VERSION="${HELM_VERSION:-v3.22.0}"
KIND_VERSION="${KIND_VERSION:-v0.33.0}"
CHECKOV_VERSION="${CHECKOV_VERSION:-3.3.30}"
KUBERNETES_VALIDATE_VERSION="${KUBERNETES_VALIDATE_VERSION:-1.37.0}"
TOOLS="$PWD/.tools"
mkdir -p "$TOOLS/bin"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }


# Helm's default Kubernetes version (what `helm template` and `helm lint`
# assume without --kube-version) is 1.20 unless set at link time; its Makefile
# sets it from the k8s.io/client-go it is built with (v0.X -> 1.X).
helm_kube_ldflags() {  # helm_kube_ldflags GO VERSION
  local gomod client_go major minor
  gomod="$("$1" mod download -json "helm.sh/helm/v3@$2" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
  client_go="$(awk '$1 == "k8s.io/client-go" { print $2 }' "$gomod")"
  [[ "$client_go" =~ ^v0\.([0-9]+)\. ]] || die "cannot tell the k8s.io/client-go version of helm $2 (from $gomod)"
  major=1 minor="${BASH_REMATCH[1]}"
  local pkg
  for pkg in pkg/lint/rules pkg/chartutil; do
    printf -- '-X helm.sh/helm/v3/%s.k8sVersionMajor=%s -X helm.sh/helm/v3/%s.k8sVersionMinor=%s ' "$pkg" "$major" "$pkg" "$minor"
  done
}

# install_go_tool NAME MODULE VERSION VERSION_PROBE
install_go_tool() {
  local name="$1" module="$2" version="$3" stamp="$TOOLS/bin/.$1-$3"
  # (helm: a new stamp since it is linked with its Kubernetes version, so an older build is redone)
  [[ "$name" == helm ]] && stamp+="-kube"
  if [[ -x "$TOOLS/bin/$name" && -e "$stamp" ]]; then
    return
  fi
  local go
  go="$(bash scripts/go.sh)" || die "Go is needed to build $name $version (or put a $name binary at $TOOLS/bin/$name)"
  log "building $name $version (go install $module@$version)"
  # Helm and kind read their version from ldflags; set them so `helm version` tells the truth.
  local ldflags=""
  [[ "$name" == helm ]] && ldflags="-X helm.sh/helm/v3/internal/version.version=$version $(helm_kube_ldflags "$go" "$version")"
  GOBIN="$TOOLS/bin" GOFLAGS="${GOFLAGS:-} -buildvcs=false" "$go" install -ldflags "$ldflags" "$module@$version"
  rm -f "$TOOLS/bin/.$name-"*
  touch "$stamp"
}

install_go_tool helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION"
[[ "${SKIP_KIND:-0}" == 1 ]] || install_go_tool kind sigs.k8s.io/kind "$KIND_VERSION"

venv_stamp="$TOOLS/venv/.installed-$CHECKOV_VERSION-$KUBERNETES_VALIDATE_VERSION"
if [[ ! -e "$venv_stamp" ]]; then
  log "installing checkov $CHECKOV_VERSION and kubernetes-validate $KUBERNETES_VALIDATE_VERSION into .tools/venv"
  python3 -m venv "$TOOLS/venv"
  "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check \
    "checkov==$CHECKOV_VERSION" "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
  rm -f "$TOOLS/venv/.installed-"*
  touch "$venv_stamp"
fi
log "tools ready: $("$TOOLS/bin/helm" version --short 2>/dev/null), checkov $("$TOOLS/venv/bin/checkov" --version 2>/dev/null)"
