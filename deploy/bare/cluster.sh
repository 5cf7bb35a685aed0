#!/usr/bin/env bash
# The bare test cluster: one Kubernetes node on this machine, from binaries
# built by deploy/bare/build.sh and Debian's containerd, runc, etcd and CNI
# plugins, for machines where kind cannot run (no image registry). A test
# harness, not a replacement for kind: one node, no cloud, no ingress.
#
#   cluster.sh up        build what is missing, start, wait for the node
#   cluster.sh down      stop everything and put the host back as it was
#   cluster.sh check     after down: fail if anything of the cluster is left
#   cluster.sh import REF...   move Docker images into the node's containerd
#   cluster.sh env       print KUBECONFIG=... and the kubectl path
#
# Needs root on Linux. State: .local/bare/ (certificates, kubeconfig, logs,
# the host snapshot `check` compares against) and BARE_STATE/BARE_RUN.
set -euo pipefail
cd "$(dirname "$0")/../.."
source deploy/bare/lib.sh
source deploy/bare/cluster.env

LOCAL="$PWD/.local/bare"
CERTS="$LOCAL/certs"
LOGS="$LOCAL/logs"
PIDS="$BARE_RUN/pids"
SNAPSHOT="$LOCAL/host-before"
KUBECONFIG_FILE="$LOCAL/kubeconfig"
SOCK="$BARE_RUN/containerd.sock"
RUNC_ROOT="$BARE_RUN/runc"
CGROUP_ROOT=sandbox-bare
GUARD=SBX-GUARD
# Sysctls the node's daemons change; `down` restores them.
SYSCTLS=(net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables
  vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys
  kernel.keys.root_maxbytes net.ipv4.conf.all.route_localnet net.netfilter.nf_conntrack_max
  net.netfilter.nf_conntrack_tcp_timeout_established net.netfilter.nf_conntrack_tcp_timeout_close_wait
  net.ipv4.conf.all.forwarding net.ipv6.conf.all.forwarding)

resolve_bins() {
  KUBE_VERSION="$(kube_version)"
  KBIN="$BARE_TOOLS/kubernetes-$KUBE_VERSION"
  PAUSE_BIN="$BARE_TOOLS/pause-$KUBE_VERSION/pause"
  PAUSE_IMAGE="sandbox.local/pause:$KUBE_VERSION"
  COREDNS_BIN="$(wrapper_bin_dir coredns)/coredns"
  KUBE_ROUTER_BIN="$(wrapper_bin_dir kube-router)/kube-router"
  KUBECTL="$KBIN/kubectl"
}

# --- host checks and preparation --------------------------------------------
preflight() {
  [[ "$(uname -s)" == Linux ]] || die "the bare cluster runs on Linux only; use kind elsewhere"
  [[ "$(id -u)" == 0 ]] || die "the bare cluster needs root (it runs a kubelet); use kind without root"
  local cmd
  for cmd in containerd runc etcd iptables ip6tables iptables-save ipset conntrack nft ip openssl docker; do
    command -v "$cmd" >/dev/null || die "$cmd not found: run deploy/bare/prereqs.sh (apt packages of the bare cluster)"
  done
  [[ -x /usr/lib/cni/bridge || -x /opt/cni/bin/bridge ]] || die "CNI plugins not found: apt-get install -y containernetworking-plugins"
  docker info >/dev/null 2>&1 || die "no Docker engine answers (images move into the node from Docker): start dockerd"
  [[ -d /proc/sys/net/bridge ]] || die "the kernel has no bridge netfilter (br_netfilter); Services between pods cannot work"
}

cni_bin_dir() { [[ -x /usr/lib/cni/bridge ]] && echo /usr/lib/cni || echo /opt/cni/bin; }

# A route of the host's that already covers RANGE, other than the default
# route and our own bridges: the cluster would shadow a real network.
range_taken() {
  ip -4 route show | awk -v pfx="$BARE_IFACE_PREFIX" '$1 != "default" && $0 !~ ("dev " pfx) { print $1 }' |
    python3 -c '
import ipaddress, sys
want = ipaddress.ip_network(sys.argv[1])
for line in sys.stdin:
    try:
        net = ipaddress.ip_network(line.strip(), strict=False)
    except ValueError:
        continue
    if net.overlaps(want):
        print(net)
        sys.exit(0)
sys.exit(1)' "$1"
}

snapshot_host() {  # what `check` compares the host against after `down`
  mkdir -p "$SNAPSHOT"
  ip -o link show | awk -F': ' '{ print $2 }' | sed 's/@.*//' | sort >"$SNAPSHOT/links"
  ip -4 route show | sort >"$SNAPSHOT/routes"
  netns_names >"$SNAPSHOT/netns"
  iptables_chains | sort >"$SNAPSHOT/chains"
  ipset list -n 2>/dev/null | sort >"$SNAPSHOT/ipsets" || true
  awk '{ print $2 }' /proc/mounts | sort >"$SNAPSHOT/mounts"
  local key
  for key in "${SYSCTLS[@]}"; do
    printf '%s=%s\n' "$key" "$(sysctl -n "$key" 2>/dev/null || echo absent)"
  done >"$SNAPSHOT/sysctls"
}

netns_names() {  # none until something has made one: a fresh host has no /var/run/netns
  [[ -d /var/run/netns ]] || return 0
  find /var/run/netns -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort
}

iptables_chains() {  # TABLE:CHAIN for every chain of every table, IPv4 and IPv6
  local cmd table
  for cmd in iptables ip6tables; do
    for table in filter nat mangle raw; do
      "$cmd-save" -t "$table" 2>/dev/null | awk -v t="$cmd:$table" '/^:/ { print t ":" substr($1, 2) }'
    done
  done
}

network_up() {
  local range taken
  for range in "$BARE_NODE_NET" "$BARE_POD_CIDR" "$BARE_SERVICE_CIDR"; do
    if taken="$(range_taken "$range")"; then
      die "$range overlaps the host's route to $taken; change the ranges in deploy/bare/cluster.env"
    fi
  done
  # The guard first: nothing addressed to the cluster may leave by any
  # interface but the cluster's own bridges (and loopback), and nothing from
  # the cluster's bridges is forwarded out of the machine.
  local chain
  iptables -N "$GUARD" 2>/dev/null || iptables -F "$GUARD"
  iptables -A "$GUARD" -o lo -j RETURN
  iptables -A "$GUARD" -o "$BARE_IFACE_PREFIX+" -j RETURN
  for range in "$BARE_NODE_NET" "$BARE_POD_CIDR" "$BARE_SERVICE_CIDR"; do
    iptables -A "$GUARD" -d "$range" -j DROP
  done
  iptables -A "$GUARD" -i "$BARE_IFACE_PREFIX+" -j DROP
  for chain in OUTPUT FORWARD; do
    iptables -C "$chain" -j "$GUARD" 2>/dev/null || iptables -I "$chain" 1 -j "$GUARD"
  done

  ensure_bridge "$BARE_NODE_BRIDGE" "$BARE_NODE_IP/${BARE_NODE_NET#*/}"
  ensure_bridge "$BARE_POD_BRIDGE" "$BARE_POD_GATEWAY/${BARE_NODE_POD_CIDR#*/}"
  ip route replace "$BARE_POD_CIDR" dev "$BARE_POD_BRIDGE"
  ip route replace "$BARE_SERVICE_CIDR" dev "$BARE_NODE_BRIDGE"

  # The API address must be this machine's before anything connects to it.
  ip -4 -o addr show | awk '{ print $4 }' | grep -qx "$BARE_NODE_IP/${BARE_NODE_NET#*/}" \
    || die "$BARE_NODE_IP is not an address of this machine; refusing to start"
  local via
  for range in "$BARE_NODE_IP" "$BARE_POD_GATEWAY" "$BARE_API_SERVICE_IP"; do
    via="$(ip -4 route get "$range" | head -n1)"
    [[ "$via" == local* || "$via" == *"dev $BARE_IFACE_PREFIX"* ]] \
      || die "$range would leave by '$via'; refusing to start"
  done

  sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1
}

ensure_bridge() {  # ensure_bridge NAME ADDRESS/PREFIX
  ip link show "$1" >/dev/null 2>&1 || ip link add "$1" type bridge
  ip addr replace "$2" dev "$1"
  ip link set "$1" up
}

# --- certificates and kubeconfigs -------------------------------------------
issue_cert() {  # issue_cert NAME SUBJECT [SAN]  (client certificate unless SAN is given)
  local name="$1" subject="$2" san="${3:-}" ext="$CERTS/$1.ext"
  [[ -s "$CERTS/$name.crt" ]] && return
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$CERTS/$name.key" 2>/dev/null
  openssl req -new -key "$CERTS/$name.key" -subj "$subject" -out "$CERTS/$name.csr" 2>/dev/null
  if [[ -n "$san" ]]; then
    printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=%s\n' "$san" >"$ext"
  else
    printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' >"$ext"
  fi
  openssl x509 -req -in "$CERTS/$name.csr" -CA "$CERTS/ca.crt" -CAkey "$CERTS/ca.key" -CAcreateserial \
    -days 30 -extfile "$ext" -out "$CERTS/$name.crt" 2>/dev/null
  rm -f "$CERTS/$name.csr" "$ext"
}

write_kubeconfig() {  # write_kubeconfig FILE CERT_NAME
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: bare
    cluster:
      server: https://$BARE_NODE_IP:$BARE_API_PORT
      certificate-authority: $CERTS/ca.crt
users:
  - name: $2
    user:
      client-certificate: $CERTS/$2.crt
      client-key: $CERTS/$2.key
contexts:
  - name: bare
    context: {cluster: bare, user: $2}
current-context: bare
EOF
}

pki() {
  mkdir -p "$CERTS"
  if [[ ! -s "$CERTS/ca.crt" ]]; then
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$CERTS/ca.key" 2>/dev/null
    openssl req -x509 -new -key "$CERTS/ca.key" -subj "/CN=sandbox-bare-ca" -days 30 -out "$CERTS/ca.crt" 2>/dev/null
  fi
  [[ -s "$CERTS/sa.key" ]] || {
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$CERTS/sa.key" 2>/dev/null
    openssl pkey -in "$CERTS/sa.key" -pubout -out "$CERTS/sa.pub" 2>/dev/null
  }
  local svc="kubernetes.default.svc"
  issue_cert apiserver "/CN=kube-apiserver" \
    "DNS:kubernetes,DNS:kubernetes.default,DNS:$svc,DNS:$svc.$BARE_CLUSTER_DOMAIN,DNS:localhost,IP:$BARE_NODE_IP,IP:$BARE_API_SERVICE_IP,IP:127.0.0.1"
  issue_cert kubelet-serving "/CN=$BARE_NODE_NAME" "DNS:$BARE_NODE_NAME,IP:$BARE_NODE_IP"
  issue_cert admin "/O=system:masters/CN=sandbox-admin"
  issue_cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
  issue_cert controller-manager "/CN=system:kube-controller-manager"
  issue_cert scheduler "/CN=system:kube-scheduler"
  issue_cert kube-proxy "/O=system:node-proxier/CN=system:kube-proxy"
  issue_cert kubelet "/O=system:nodes/CN=system:node:$BARE_NODE_NAME"
  local who
  for who in admin controller-manager scheduler kube-proxy kubelet; do
    write_kubeconfig "$LOCAL/$who.kubeconfig" "$who"
  done
  cp "$LOCAL/admin.kubeconfig" "$KUBECONFIG_FILE"
}

# --- processes ---------------------------------------------------------------
start() {  # start NAME COMMAND...  (in its own session, logging to LOGS/NAME.log)
  local name="$1"; shift
  if [[ -s "$PIDS/$name" ]] && kill -0 "$(cat "$PIDS/$name")" 2>/dev/null; then
    return
  fi
  setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$PIDS/$name"
}

wait_for() {  # wait_for WHAT SECONDS COMMAND...
  local what="$1" seconds="$2" i; shift 2
  for ((i = 0; i < seconds * 2; i++)); do
    "$@" >/dev/null 2>&1 && return
    sleep 0.5
  done
  die "$what did not come up in ${seconds}s; see $LOGS/"
}

write_configs() {
  local cni_conf="$LOCAL/cni"
  mkdir -p "$cni_conf" "$BARE_STATE/cni-ipam"
  cat >"$cni_conf/10-sandbox-bare.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "sandbox-bare",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BARE_POD_BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$BARE_STATE/cni-ipam",
        "ranges": [[{"subnet": "$BARE_NODE_POD_CIDR", "gateway": "$BARE_POD_GATEWAY"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "firewall"}
  ]
}
EOF
  cat >"$LOCAL/containerd.toml" <<EOF
version = 2
root = "$BARE_STATE/containerd"
state = "$BARE_RUN/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$BARE_STATE/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # Without CAP_SYS_RESOURCE (some sandboxes' root) runc cannot lower a
  # process's OOM score below its parent's; every pod sandbox fails otherwise.
  restrict_oom_score_adj = true
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$RUNC_ROOT"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$(cni_bin_dir)"
    conf_dir = "$cni_conf"
EOF
  cat >"$LOCAL/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $BARE_NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $CERTS/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $CERTS/kubelet-serving.crt
tlsPrivateKeyFile: $CERTS/kubelet-serving.key
containerRuntimeEndpoint: unix://$SOCK
cgroupDriver: cgroupfs
cgroupRoot: /$CGROUP_ROOT
# cgroup v1 hosts: Kubernetes 1.34 is the last minor whose kubelet runs there.
failCgroupV1: false
failSwapOn: false
clusterDomain: $BARE_CLUSTER_DOMAIN
clusterDNS: [$BARE_NODE_IP]
resolvConf: ""
serializeImagePulls: false
evictionHard: {memory.available: "200Mi", nodefs.available: "2%", imagefs.available: "2%", nodefs.inodesFree: "2%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
enableControllerAttachDetach: true
staticPodPath: ""
EOF
  cat >"$LOCAL/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $LOCAL/kube-proxy.kubeconfig}
mode: iptables
hostnameOverride: $BARE_NODE_NAME
clusterCIDR: $BARE_POD_CIDR
bindAddress: $BARE_NODE_IP
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
nodePortAddresses: ["$BARE_NODE_IP/32"]
iptables: {localhostNodePorts: false}
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
  cat >"$LOCAL/Corefile" <<EOF
.:53 {
    bind $BARE_NODE_IP
    errors
    health 127.0.0.1:18080
    ready 127.0.0.1:18181
    kubernetes $BARE_CLUSTER_DOMAIN in-addr.arpa ip6.arpa {
        kubeconfig $LOCAL/admin.kubeconfig bare
        pods insecure
        ttl 30
    }
    cache 30
    loadbalance
}
EOF
}

storage() {  # local volumes, bound when a pod first uses its claim
  local i dir
  "$KUBECTL" apply -f - >/dev/null <<EOF
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Retain
EOF
  for ((i = 1; i <= BARE_VOLUMES; i++)); do
    dir="$BARE_STATE/volumes/pv-$i"
    mkdir -p "$dir"
    "$KUBECTL" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolume
metadata:
  name: bare-pv-$i
spec:
  capacity: {storage: 20Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: standard
  local: {path: $dir}
  nodeAffinity:
    required:
      nodeSelectorTerms:
        - matchExpressions:
            - {key: kubernetes.io/hostname, operator: In, values: [$BARE_NODE_NAME]}
EOF
  done
}

pause_image() {
  docker image inspect "$PAUSE_IMAGE" >/dev/null 2>&1 || {
    local dir
    dir="$(mktemp -d)"
    cp "$PAUSE_BIN" "$dir/pause"
    tar --numeric-owner --owner=0 --group=0 -C "$dir" -c pause |
      docker import --change 'ENTRYPOINT ["/pause"]' --change 'USER 65535:65535' - "$PAUSE_IMAGE" >/dev/null
    rm -rf "$dir"
  }
  import_images "$PAUSE_IMAGE"
}

import_images() {  # import_images REF...: Docker -> the node's containerd, once per image id
  local ref id
  for ref in "$@"; do
    id="$(docker image inspect --format '{{.Id}}' "$ref")" || die "no Docker image $ref"
    grep -qx "$ref $id" "$BARE_RUN/imported" 2>/dev/null && continue
    log "importing $ref into the node"
    docker save "$ref" | ctr -a "$SOCK" -n k8s.io images import - >/dev/null
    echo "$ref $id" >>"$BARE_RUN/imported"
  done
}

up() {
  preflight
  bash deploy/bare/build.sh all
  resolve_bins
  if [[ -s "$PIDS/kube-apiserver" ]] && kill -0 "$(cat "$PIDS/kube-apiserver")" 2>/dev/null; then
    log "the bare cluster is already running (cluster.sh down stops it)"
    return
  fi
  mkdir -p "$LOCAL" "$LOGS" "$BARE_STATE" "$BARE_RUN" "$PIDS"
  [[ -d "$SNAPSHOT" ]] || snapshot_host
  network_up
  pki
  write_configs
  local started=$SECONDS

  # No pull may leave the machine: containerd's proxy points at nothing.
  start containerd env HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY= \
    containerd --config "$LOCAL/containerd.toml"
  start etcd etcd --name bare --data-dir "$BARE_STATE/etcd" \
    --listen-client-urls http://127.0.0.1:23790 --advertise-client-urls http://127.0.0.1:23790 \
    --listen-peer-urls http://127.0.0.1:23800 --initial-advertise-peer-urls http://127.0.0.1:23800 \
    --initial-cluster bare=http://127.0.0.1:23800 --listen-metrics-urls http://127.0.0.1:23810 \
    --quota-backend-bytes 2147483648 --log-level warn
  wait_for etcd 30 curl -fsS http://127.0.0.1:23790/health
  start kube-apiserver "$KBIN/kube-apiserver" \
    --advertise-address "$BARE_NODE_IP" --bind-address "$BARE_NODE_IP" --secure-port "$BARE_API_PORT" \
    --etcd-servers http://127.0.0.1:23790 \
    --service-cluster-ip-range "$BARE_SERVICE_CIDR" \
    --client-ca-file "$CERTS/ca.crt" --tls-cert-file "$CERTS/apiserver.crt" --tls-private-key-file "$CERTS/apiserver.key" \
    --kubelet-client-certificate "$CERTS/apiserver-kubelet-client.crt" --kubelet-client-key "$CERTS/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types InternalIP \
    --service-account-issuer "https://kubernetes.default.svc.$BARE_CLUSTER_DOMAIN" \
    --service-account-key-file "$CERTS/sa.pub" --service-account-signing-key-file "$CERTS/sa.key" \
    --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
    --allow-privileged=true --profiling=false --v=1
  wait_for "the API server" 90 "$KUBECTL" --kubeconfig "$KUBECONFIG_FILE" get --raw /readyz
  export KUBECONFIG="$KUBECONFIG_FILE"
  start kube-controller-manager "$KBIN/kube-controller-manager" \
    --kubeconfig "$LOCAL/controller-manager.kubeconfig" --bind-address 127.0.0.1 --leader-elect=false \
    --service-account-private-key-file "$CERTS/sa.key" --root-ca-file "$CERTS/ca.crt" \
    --cluster-signing-cert-file "$CERTS/ca.crt" --cluster-signing-key-file "$CERTS/ca.key" \
    --use-service-account-credentials --allocate-node-cidrs --cluster-cidr "$BARE_POD_CIDR" \
    --node-cidr-mask-size "${BARE_NODE_POD_CIDR#*/}" --service-cluster-ip-range "$BARE_SERVICE_CIDR" \
    --controllers '*,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller' --v=1
  start kube-scheduler "$KBIN/kube-scheduler" \
    --kubeconfig "$LOCAL/scheduler.kubeconfig" --bind-address 127.0.0.1 --leader-elect=false --v=1
  wait_for containerd 30 ctr -a "$SOCK" version
  pause_image
  cgroup_root
  start kubelet "$KBIN/kubelet" --config "$LOCAL/kubelet.yaml" --kubeconfig "$LOCAL/kubelet.kubeconfig" \
    --hostname-override "$BARE_NODE_NAME" --node-ip "$BARE_NODE_IP" --root-dir "$BARE_STATE/kubelet" \
    --cert-dir "$BARE_STATE/kubelet/pki" --v=1
  start kube-proxy "$KBIN/kube-proxy" --config "$LOCAL/kube-proxy.yaml" --v=1
  start coredns "$COREDNS_BIN" -conf "$LOCAL/Corefile"
  wait_for "the node" 120 "$KUBECTL" wait --for=condition=Ready "node/$BARE_NODE_NAME" --timeout=1s
  start kube-router "$KUBE_ROUTER_BIN" --kubeconfig "$LOCAL/admin.kubeconfig" \
    --hostname-override "$BARE_NODE_NAME" --run-firewall=true --run-router=false --run-service-proxy=false \
    --enable-cni=false --enable-ipv6=false --health-port 20244 --metrics-port 0 --v=1
  wait_for "DNS" 30 curl -fsS http://127.0.0.1:18181/ready
  wait_for "the network policy controller" 60 curl -fsS http://127.0.0.1:20244/healthz
  storage
  log "the bare cluster is up in $((SECONDS - started))s: export KUBECONFIG=$KUBECONFIG_FILE"
}

cgroup_root() {  # the kubelet's cgroupRoot must exist in every hierarchy
  local hierarchy
  for hierarchy in /sys/fs/cgroup/*/; do
    [[ -e "$hierarchy/cgroup.procs" ]] || continue
    mkdir -p "$hierarchy$CGROUP_ROOT"
    if [[ -e "$hierarchy/cpuset.cpus" ]]; then  # cgroup v1 cpusets start empty
      cat "$hierarchy/cpuset.cpus" >"$hierarchy$CGROUP_ROOT/cpuset.cpus"
      cat "$hierarchy/cpuset.mems" >"$hierarchy$CGROUP_ROOT/cpuset.mems"
    fi
  done
}

# --- teardown ----------------------------------------------------------------
stop_pid() {  # stop_pid NAME: TERM, then KILL after a grace period
  local file="$PIDS/$1" pid i
  [[ -s "$file" ]] || return 0
  pid="$(cat "$file")"
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 20; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  rm -f "$file"
}

kill_containers() {
  local id
  if [[ -d "$RUNC_ROOT" ]]; then
    for dir in "$RUNC_ROOT"/*/; do
      [[ -d "$dir" ]] || continue
      for id in $(runc --root "$dir" list -q 2>/dev/null); do
        runc --root "$dir" kill -a "$id" KILL 2>/dev/null || runc --root "$dir" kill "$id" KILL 2>/dev/null || true
        runc --root "$dir" delete -f "$id" 2>/dev/null || true
      done
    done
  fi
  # Shims that served our socket, and anything still in the node's cgroups.
  pkill -KILL -f "containerd-shim-runc-v2 .*-address $SOCK" 2>/dev/null || true
  local procs
  for procs in /sys/fs/cgroup/*/"$CGROUP_ROOT"; do
    [[ -d "$procs" ]] || continue
    # shellcheck disable=SC2038  # cgroup.procs holds pids, one a line
    find "$procs" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
  done
}

remove_cgroups() {
  local tree
  for tree in /sys/fs/cgroup/*/"$CGROUP_ROOT"; do
    [[ -d "$tree" ]] || continue
    find "$tree" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
}

unmount_under() {  # every mount point under the given directories, deepest first
  local dir
  for dir in "$@"; do
    awk -v d="$dir" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r |
      while read -r point; do umount -l "$point" 2>/dev/null || true; done
  done
}

network_down() {
  local ns
  # Network namespaces the pods had: those the snapshot did not list.
  if [[ -d /var/run/netns ]]; then
    for ns in $(netns_names); do
      grep -qx "$ns" "$SNAPSHOT/netns" 2>/dev/null || {
        ip netns del "$ns" 2>/dev/null || { umount -l "/var/run/netns/$ns" 2>/dev/null; rm -f "/var/run/netns/$ns"; }
      }
    done
  fi
  ip link show type veth 2>/dev/null | awk -F': ' '/master '"$BARE_POD_BRIDGE"'/ { print $2 }' | sed 's/@.*//' |
    while read -r link; do ip link del "$link" 2>/dev/null || true; done
  local bridge
  for bridge in "$BARE_POD_BRIDGE" "$BARE_NODE_BRIDGE"; do
    ip link del "$bridge" 2>/dev/null || true
  done
  # Chains the node's daemons made (kube-proxy, kube-router, the CNI plugins,
  # ours) and the ipsets of the policy controller: only those the host did not have.
  remove_new_chains
  local set
  for set in $(ipset list -n 2>/dev/null); do
    [[ "$set" == KUBE-* ]] || continue
    grep -qx "$set" "$SNAPSHOT/ipsets" 2>/dev/null || ipset destroy "$set" 2>/dev/null || true
  done
  nft list tables 2>/dev/null | awk '$3 ~ /^kube-proxy$|^kube-router/ { print $2, $3 }' |
    while read -r family table; do nft delete table "$family" "$table" 2>/dev/null || true; done
  conntrack -D -s "$BARE_POD_CIDR" >/dev/null 2>&1 || true
  conntrack -D -d "$BARE_POD_CIDR" >/dev/null 2>&1 || true
  conntrack -D -d "$BARE_SERVICE_CIDR" >/dev/null 2>&1 || true
}

remove_new_chains() {
  local cmd table chains chain before
  before="$SNAPSHOT/chains"
  for cmd in iptables ip6tables; do
    for table in filter nat mangle raw; do
      chains="$("$cmd-save" -t "$table" 2>/dev/null | awk '/^:/ { print substr($1, 2) }')"
      [[ -n "$chains" ]] || continue
      local -a ours=()
      for chain in $chains; do
        [[ "$chain" =~ ^(KUBE-|CNI-|$GUARD) ]] || continue
        grep -qx "$cmd:$table:$chain" "$before" 2>/dev/null || ours+=("$chain")
      done
      ((${#ours[@]})) || continue
      # Drop every rule that jumps to one of them, then flush and delete them.
      local pattern
      pattern="$(printf ' -j %s( |$)|' "${ours[@]}")"
      pattern="${pattern%|}"
      { "$cmd-save" -t "$table" | grep -E -- "^-A .*(${pattern})" || true; } | sed 's/^-A /-D /' |
        while read -r rule; do eval "$cmd -t $table $rule" 2>/dev/null || true; done
      for chain in "${ours[@]}"; do "$cmd" -t "$table" -F "$chain" 2>/dev/null || true; done
      for chain in "${ours[@]}"; do "$cmd" -t "$table" -X "$chain" 2>/dev/null || true; done
    done
  done
}

restore_sysctls() {
  [[ -s "$SNAPSHOT/sysctls" ]] || return 0
  local line key value
  while IFS= read -r line; do
    key="${line%%=*}" value="${line#*=}"
    [[ "$value" == absent ]] && continue
    [[ "$(sysctl -n "$key" 2>/dev/null)" == "$value" ]] || sysctl -qw "$key=$value" 2>/dev/null || true
  done <"$SNAPSHOT/sysctls"
}

down() {
  local name
  # The kubelet first, so it restarts nothing; then the pods, then the rest.
  for name in kube-router kubelet kube-proxy coredns; do stop_pid "$name"; done
  kill_containers
  for name in kube-scheduler kube-controller-manager kube-apiserver etcd containerd; do stop_pid "$name"; done
  kill_containers
  unmount_under "$BARE_STATE" "$BARE_RUN"
  remove_cgroups
  network_down
  restore_sysctls
  rm -rf "$BARE_STATE" "$BARE_RUN"
  log "the bare cluster is down"
}

# After down: anything left of the cluster is a defect of down.
check() {
  [[ -d "$SNAPSHOT" ]] || die "no host snapshot in $SNAPSHOT: run up first"
  local problems=() left
  left="$(pgrep -a -f "$BARE_STATE|$BARE_RUN|$LOCAL/|containerd-shim-runc-v2 .*$SOCK" | grep -v -e pgrep -e cluster.sh || true)"
  [[ -z "$left" ]] || problems+=("processes: $left")
  left="$(awk -v s="$BARE_STATE" -v r="$BARE_RUN" 'index($2, s) == 1 || index($2, r) == 1 { print $2 }' /proc/mounts)"
  [[ -z "$left" ]] || problems+=("mounts: $left")
  left="$(comm -13 "$SNAPSHOT/netns" <(netns_names) | tr '\n' ' ')"
  [[ -z "$left" ]] || problems+=("network namespaces: $left")
  left="$(comm -13 "$SNAPSHOT/links" <(ip -o link show | awk -F': ' '{ print $2 }' | sed 's/@.*//' | sort) | tr '\n' ' ')"
  [[ -z "$left" ]] || problems+=("interfaces: $left")
  left="$(comm -13 "$SNAPSHOT/chains" <(iptables_chains | sort) | tr '\n' ' ')"
  [[ -z "$left" ]] || problems+=("iptables chains: $left")
  left="$(comm -13 "$SNAPSHOT/ipsets" <(ipset list -n 2>/dev/null | sort) | tr '\n' ' ')"
  [[ -z "$left" ]] || problems+=("ipsets: $left")
  left="$(comm -13 "$SNAPSHOT/routes" <(ip -4 route show | sort) | tr '\n' ';')"
  [[ -z "$left" ]] || problems+=("routes: $left")
  local key value
  while IFS='=' read -r key value; do
    [[ "$(sysctl -n "$key" 2>/dev/null || echo absent)" == "$value" ]] || problems+=("sysctl $key: $(sysctl -n "$key" 2>/dev/null) (was $value)")
  done <"$SNAPSHOT/sysctls"
  left="$(compgen -G "/sys/fs/cgroup/*/$CGROUP_ROOT" | tr "\n" " " || true)"
  [[ -z "$left" ]] || problems+=("cgroups: $left")
  [[ ! -e "$BARE_STATE" && ! -e "$BARE_RUN" ]] || problems+=("directories: $BARE_STATE $BARE_RUN")
  if ((${#problems[@]})); then
    printf 'left behind by the bare cluster:\n' >&2
    printf '  %s\n' "${problems[@]}" >&2
    exit 1
  fi
  rm -rf "$SNAPSHOT"
  log "the host is as the bare cluster found it"
}

case "${1:-}" in
  up) up ;;
  down) resolve_bins 2>/dev/null || true; down ;;
  check) check ;;
  import) shift; import_images "$@" ;;
  env) resolve_bins; printf 'KUBECONFIG=%s\nKUBECTL=%s\n' "$KUBECONFIG_FILE" "$KUBECTL" ;;
  *) die "usage: cluster.sh up|down|check|import REF...|env" ;;
esac
