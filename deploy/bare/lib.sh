# shellcheck shell=bash disable=SC2034  # sourced by the bare cluster's scripts, which use GO
# Shared by the bare cluster's scripts (sourced, not run).
BARE_TOOLS="${BARE_TOOLS:-$PWD/.tools/bare}"
log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
# A Go new enough for every module (scripts/go.sh fetches one when the machine's is older).
GO="$(bash scripts/go.sh)" || exit 1

# module_version DIR MODULE -> the version DIR's go.mod requires of MODULE
# (each wrapper module's go.mod is the one place a version is pinned)
module_version() { (cd "$1" && "$GO" list -m -f '{{.Version}}' "$2"); }
kube_version() { module_version deploy/bare/kubernetes k8s.io/kubernetes; }
# wrapper_main DIR -> the module a wrapper under deploy/bare/modules/ pins
# (the `// main: MODULE` line of its tools.go)
wrapper_main() { awk '/^\/\/ main: / { print $3 }' "$1/tools.go"; }
# wrapper_bin_dir NAME -> where build.sh puts deploy/bare/modules/NAME's binaries
wrapper_bin_dir() {
  local dir="deploy/bare/modules/$1" main
  main="$(wrapper_main "$dir")"
  [[ -n "$main" ]] || die "$dir/tools.go has no '// main: MODULE' line"
  echo "$BARE_TOOLS/$1-$(module_version "$dir" "$main")"
}
# prometheus_release MODULE_VERSION -> the Prometheus release it is
# (github.com/prometheus/prometheus v0.313.1 is Prometheus v3.13.1)
prometheus_release() {
  local v="${1#v0.}"
  echo "v$((${v%%.*} / 100)).$((${v%%.*} % 100)).${v#*.}"
}
