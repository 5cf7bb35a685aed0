#!/usr/bin/env bash
# Prints the path of a Go toolchain new enough for everything the sandbox
# builds from the Go module proxy (helm, kind, FerretDB, the exporters, the bare
# cluster), or says what to install and fails.
#
# The machine's Go is used when it is new enough. An older one fetches Go
# $GO_FETCH through its own module proxy settings (`go env GOPROXY`):
# - Go 1.21 and newer switch toolchains themselves (GOTOOLCHAIN, overriding
#   the GOTOOLCHAIN=local that Debian's and Ubuntu's packages set);
# - older ones (Debian 12's golang-go is 1.19) download the same
#   golang.org/toolchain module, kept in .tools/go/.
# Any Go from 1.19 on can bootstrap this way; without any Go, install one.
#
# Usage: GO="$(bash scripts/go.sh)"        (progress and errors on stderr)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

GO_MIN=1.26.0    # the newest `go` line of the modules built (helm v3.22.0)
GO_FETCH=1.26.8  # what an older Go fetches

die() { printf 'error: %s\n' "$*" >&2; exit 1; }
newer_or_equal() { [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" == "$2" ]]; }

installed_go() {
  local candidate
  command -v go 2>/dev/null && return
  for candidate in /usr/local/go/bin/go /usr/lib/go/bin/go $(ls -d /usr/lib/go-*/bin/go 2>/dev/null | sort -V -r); do
    [[ -x "$candidate" ]] && { echo "$candidate"; return; }
  done
  return 1
}

# Outside any module, so no go.mod makes the probe itself switch toolchains.
go_here() { (cd / && GOTOOLCHAIN=local GOFLAGS= "$@"); }

go="$(installed_go)" || die "Go is needed and not installed. Install any Go from 1.19 on \
(Debian/Ubuntu: sudo apt-get install -y golang-go; macOS: brew install go); the sandbox \
fetches Go $GO_FETCH with it when it is older than $GO_MIN"
version="$(go_here "$go" version | sed -n -E 's/^go version go([0-9.]+).*/\1/p')"
[[ -n "$version" ]] || die "cannot tell the version of $go ($(go_here "$go" version 2>&1 || true))"

if newer_or_equal "$version" "$GO_MIN"; then
  echo "$go"
  exit 0
fi

fetched="$ROOT/.tools/go/go$GO_FETCH"
if [[ -x "$fetched/bin/go" ]]; then
  echo "$fetched/bin/go"
  exit 0
fi

if newer_or_equal "$version" 1.21; then
  printf '==> Go %s is older than %s: switching to Go %s (GOTOOLCHAIN)\n' "$version" "$GO_MIN" "$GO_FETCH" >&2
  goroot="$(cd / && GOTOOLCHAIN="go$GO_FETCH" GOFLAGS= "$go" env GOROOT)" \
    || die "Go $version could not fetch Go $GO_FETCH through its module proxy ($("$go" env GOPROXY)); \
install Go $GO_MIN or newer yourself (https://go.dev/doc/install)"
  echo "$goroot/bin/go"
  exit 0
fi

newer_or_equal "$version" 1.19 || die "Go $version is too old to fetch a newer Go; install Go $GO_MIN \
or newer (https://go.dev/doc/install), or any Go from 1.19 on (Debian/Ubuntu: golang-go)"
platform="$(go_here "$go" env GOOS)-$(go_here "$go" env GOARCH)"
printf '==> Go %s is older than %s and cannot switch itself: fetching Go %s into .tools/go/\n' \
  "$version" "$GO_MIN" "$GO_FETCH" >&2
module="golang.org/toolchain@v0.0.1-go$GO_FETCH.$platform"
downloaded="$(go_here "$go" mod download -json "$module" 2>&1)" || true
dir="$(sed -n -E 's/^[[:space:]]*"Dir": "(.*)",?$/\1/p' <<<"$downloaded")"
[[ -n "$dir" && -d "$dir/bin" ]] || die "Go $version could not download $module through its module proxy \
($(go_here "$go" env GOPROXY)): $(tr -s '[:space:]' ' ' <<<"$downloaded" | tail -c 400)
Install Go $GO_MIN or newer yourself (https://go.dev/doc/install)"
rm -rf "$fetched.partial"
mkdir -p "$(dirname "$fetched")"
cp -R "$dir" "$fetched.partial"
chmod -R u+w "$fetched.partial"
# A module zip keeps no file modes; Go's own switching sets these the same way.
chmod +x "$fetched.partial"/bin/* "$fetched.partial"/pkg/tool/*/*
mv "$fetched.partial" "$fetched"
echo "$fetched/bin/go"
