# shellcheck shell=bash disable=SC2034  # sourced by the bare cluster's scripts, which use GO
# Shared by the bare cluster's scripts (sourced, not run).
BARE_TOOLS="${BARE_TOOLS:-$PWD/.tools/bare}"
log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
go_bin() {
  command -v go 2>/dev/null && return
  local candidate
  for candidate in /usr/local/go/bin/go /usr/lib/go/bin/go; do
    [[ -x "$candidate" ]] && { echo "$candidate"; return; }
  done
  return 1
}
GO="$(go_bin)" || die "Go is needed to build the bare cluster (apt-get install -y golang-go, Go 1.24 or newer)"
