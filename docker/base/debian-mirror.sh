#!/usr/bin/env bash
# Prints the Debian mirror to debootstrap from: DEBIAN_MIRROR when set, else
# the first Debian archive URI the host's apt uses (deb822 or one-line
# format), so a host behind a local mirror works too. Shared by
# docker/base/build-base.sh and deploy/bare/images.sh.
set -euo pipefail

if [[ -n "${DEBIAN_MIRROR:-}" ]]; then
  echo "$DEBIAN_MIRROR"
  exit 0
fi

uris="$(
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -r "$f" ]] || continue
    awk '
      /^[[:space:]]*#/ { next }
      /^deb[[:space:]]/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }
      /^URIs:/ { for (i = 2; i <= NF; i++) print $i }
    ' "$f"
  done
)"
# The security archive is skipped: it has no full suite.
while read -r uri; do
  if [[ "$uri" =~ /debian/?$ && "$uri" != *security* ]]; then
    echo "$uri"
    exit 0
  fi
done <<<"$uris"
echo "error: no Debian mirror found in /etc/apt/sources.list*; set DEBIAN_MIRROR=http://<mirror>/debian" >&2
exit 1
