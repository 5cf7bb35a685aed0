#!/usr/bin/env bash
# Builds what the bare test cluster runs, from the Go module proxy, into
# .tools/bare/ (never committed), keyed by version so a rebuild happens only
# when a pin changes:
#   .tools/bare/kubernetes-<v>/   kube-apiserver, kube-controller-manager,
#                                 kube-scheduler, kubelet, kube-proxy, kubectl
#   .tools/bare/<module>-<v>/     the other Go programs of deploy/bare/modules/
#   .tools/bare/pause-<v>/pause   the pod sandbox's pause, from the same
#                                 Kubernetes module (static, gcc)
# Each wrapper module's go.mod is the one place its version is pinned.
#   build.sh [kubernetes|pause|all|modules [NAME...]]
set -euo pipefail
cd "$(dirname "$0")/../.."
source deploy/bare/lib.sh

what="${1:-all}"

build_kubernetes() {
  local dir=deploy/bare/kubernetes version out
  version="$(kube_version)"
  out="$BARE_TOOLS/kubernetes-$version"
  [[ -e "$out/.built" ]] && return
  local minor="${version#v1.}"; minor="${minor%%.*}"
  local ldflags="-s -w" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  log "building Kubernetes $version (a cold build takes about 10 minutes on 2 cores)"
  mkdir -p "$out"
  (cd "$dir" && CGO_ENABLED=0 "$GO" build -trimpath -tags notest,grpcnotrace -ldflags "$ldflags" -o "$out/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet \
    k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kubectl)
  touch "$out/.built"
}

build_pause() {
  local version out src
  version="$(kube_version)"
  out="$BARE_TOOLS/pause-$version"
  [[ -x "$out/pause" ]] && return
  # The module's source (downloaded when the build cache alone was kept).
  src="$(cd deploy/bare/kubernetes && "$GO" mod download -json k8s.io/kubernetes |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')/build/pause/linux/pause.c"
  [[ -r "$src" ]] || die "pause.c not found in the Kubernetes module ($src)"
  command -v gcc >/dev/null || die "gcc is needed to build the pause binary (apt-get install -y gcc libc6-dev)"
  mkdir -p "$out"
  gcc -Os -Wall -Werror -static -DVERSION="$version" -o "$out/pause" "$src"
  strip "$out/pause"
}

# Every other Go program: deploy/bare/modules/<name>/ holds a wrapper module.
# Its tools.go names the pinned module (`// main: MODULE`), any environment the
# build needs (`// env: NAME=VALUE`), its build tags (`// tags: TAG...`), and
# the commands it imports; a main.go of the wrapper's own is built too.
build_modules() {  # build_modules [NAME...]: all of them by default
  local dir name out cmds env tags
  local dirs=("$@")
  ((${#dirs[@]})) && dirs=("${dirs[@]/#/deploy/bare/modules/}") || dirs=(deploy/bare/modules/*/)
  for dir in "${dirs[@]}"; do
    dir="${dir%/}" name="$(basename "$dir")"
    out="$(wrapper_bin_dir "$name")"
    [[ -e "$out/.built" ]] && continue
    mapfile -t cmds < <(awk '/^(import)?[ \t]*_ "/ { gsub(/"/, "", $NF); print $NF }' "$dir/tools.go")
    [[ -e "$dir/main.go" ]] && cmds+=(.)
    mapfile -t env < <(awk '/^\/\/ env: / { print $3 }' "$dir/tools.go")
    tags="$(awk '/^\/\/ tags: / { $1 = $2 = ""; print }' "$dir/tools.go" | xargs | tr ' ' ,)"
    log "building $name ${out#"$BARE_TOOLS/$name-"}"
    mkdir -p "$out"
    (cd "$dir" && env ${env[@]+"${env[@]}"} CGO_ENABLED=0 "$GO" build -trimpath -tags "$tags" -ldflags "-s -w" -o "$out/" "${cmds[@]}")
    touch "$out/.built"
  done
}

case "$what" in
  kubernetes) build_kubernetes ;;
  pause) build_pause ;;
  modules) shift; build_modules "$@" ;;
  all) build_kubernetes; build_pause; build_modules ;;
  *) die "usage: build.sh [kubernetes|pause|all|modules [NAME...]]" ;;
esac
