#!/usr/bin/env bash
# Debian packages the bare test cluster runs on (root, idempotent): the
# container runtime, etcd, the CNI plugins and the netfilter tools that
# kube-proxy and the policy controller call; gcc builds the pause binary.
set -euo pipefail
declare -A need=(
  [containerd]=containerd [ctr]=containerd [runc]=runc [etcd]=etcd-server
  [iptables]=iptables [ipset]=ipset [conntrack]=conntrack [nft]=nftables
  [openssl]=openssl [curl]=curl [gcc]=gcc [debootstrap]=debootstrap [dockerd]=docker.io
)
missing=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
[[ -x /usr/lib/cni/bridge || -x /opt/cni/bin/bridge ]] || missing+=(containernetworking-plugins)
[[ -e /usr/lib/x86_64-linux-gnu/libc.a || -n "$(find /usr/lib -name libc.a -print -quit 2>/dev/null)" ]] || missing+=(libc6-dev)
if ((${#missing[@]})); then
  [[ "$(id -u)" == 0 ]] || { echo "error: the bare cluster needs these packages: ${missing[*]} (sudo apt-get install -y ...)" >&2; exit 1; }
  echo "==> apt-get install ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
