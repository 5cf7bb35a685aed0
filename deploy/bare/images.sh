#!/usr/bin/env bash
# Builds stand-ins for the Helm chart's datastore and exporter images, for
# the bare test cluster, which has no image registry. The chart picks them
# through values only; each keeps its official image's contract (variables,
# ports, uid/gid 999, paths, entrypoint):
#   postgres, redis, mongo  one debootstrapped Debian root with PostgreSQL,
#                           Redis and our FerretDB build, imported once per
#                           image with its own user, entrypoint and files
#                           (entrypoints in deploy/bare/images/); mongo is
#                           FerretDB on SQLite behind a mongod-style entrypoint
#   *-exporter, prometheus, prometheus-operator, prometheus-config-reloader
#                           a static binary from deploy/bare/modules/ (built
#                           by build.sh) alone in an image, where upstream's
#                           image has it (the monitoring the cluster tests
#                           install: deploy/bare/monitoring.py)
# An image is rebuilt only when its inputs change: it carries the hash of
# what it was made from in a label (FORCE=1 rebuilds anyway).
#   images.sh [build]   build what is missing or stale, print the references
#   images.sh list      KEY=REFERENCE lines, building nothing
set -euo pipefail
cd "$(dirname "$0")/../.."
source deploy/bare/lib.sh

SUITE=bookworm
PG_MAJOR=15     # bookworm's PostgreSQL
REDIS_MAJOR=7   # bookworm's Redis
PREFIX=sandbox.local/standin
LABEL=sandbox.inputs
# Images of one static binary: NAME=MODULE:PATH[:PORT] (the wrapper module
# under deploy/bare/modules/ that builds it, where upstream's image has it,
# and the port upstream's image exposes). Tagged with the module's version,
# Prometheus with its release (v0.3XX.Y is v3.XX.Y).
STATIC=(
  postgres_exporter=postgres_exporter:/bin/postgres_exporter:9187
  redis_exporter=redis_exporter:/redis_exporter:9121
  mongodb_exporter=mongodb_exporter:/mongodb_exporter:9216
  prometheus=prometheus:/bin/prometheus:9090
  prometheus_operator=prometheus-operator:/bin/operator:8080
  prometheus_config_reloader=prometheus-operator:/bin/prometheus-config-reloader:8080
)
declare -A MODULE_OF PATH_IN PORT_OF
STATIC_NAMES=()
for entry in "${STATIC[@]}"; do
  IFS=: read -r module path port <<<"${entry#*=}"
  name="${entry%%=*}"
  STATIC_NAMES+=("$name") MODULE_OF[$name]="$module" PATH_IN[$name]="$path" PORT_OF[$name]="$port"
done

FERRETDB_VERSION="$(module_version scripts/ferretdb github.com/FerretDB/FerretDB)"

# key_of NAME -> the KEY `list` prints it under
key_of() { local key="${1^^}"; echo "${key//-/_}"; }
declare -A REF=(
  [postgres]="$PREFIX/postgres:$PG_MAJOR"
  [redis]="$PREFIX/redis:$REDIS_MAJOR"
  [mongo]="$PREFIX/mongo-ferretdb:$FERRETDB_VERSION"
)
for name in "${STATIC_NAMES[@]}"; do
  module="${MODULE_OF[$name]}"
  tag="$(wrapper_bin_dir "$module")" tag="${tag#"$BARE_TOOLS/$module-"}"
  [[ "$name" != prometheus ]] || tag="$(prometheus_release "$tag")"
  REF[$name]="$PREFIX/${name//_/-}:$tag"
done
DATASTORES=(postgres redis mongo)

list() {
  local name
  for name in "${DATASTORES[@]}" "${STATIC_NAMES[@]}"; do
    echo "$(key_of "$name")=${REF[$name]}"
  done
}

# inputs_hash FILE... -> a short hash of the files' names and contents (this
# script is always one of them: it holds the recipes)
inputs_hash() {
  local f
  for f in deploy/bare/images.sh "$@"; do printf '%s\n' "$f"; cat "$f"; done | sha256sum | cut -c1-16
}
# current REF HASH -> whether REF exists and was made from inputs hashing to HASH
current() {
  [[ "${FORCE:-0}" != 1 ]] || return 1
  [[ "$(docker image inspect -f "{{index .Config.Labels \"$LABEL\"}}" "$1" 2>/dev/null)" == "$2" ]]
}

ensure_docker() {
  command -v docker >/dev/null || die "docker not found: apt-get install -y docker.io"
  docker info >/dev/null 2>&1 && return
  log "starting dockerd"
  nohup dockerd >/var/log/sandbox-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && return; sleep 1; done
  tail -n 30 /var/log/sandbox-dockerd.log >&2
  die "dockerd did not start"
}

# import_dir DIR REF HASH [CHANGE...]: DIR's tree as the image REF
import_dir() {
  local dir="$1" ref="$2" hash="$3" change changes=() old
  shift 3
  for change in "$@" "LABEL $LABEL=$hash"; do changes+=(--change "$change"); done
  old="$(docker image inspect -f '{{.Id}}' "$ref" 2>/dev/null || true)"
  log "importing $ref"
  tar --numeric-owner -C "$dir" -c . | docker import "${changes[@]}" - "$ref" >/dev/null
  # The image it replaces would linger untagged; one a container still uses stays.
  [[ -z "$old" ]] || docker rmi "$old" >/dev/null 2>&1 || true
}

# set_stop_signal REF SIGNAL: docker import cannot set STOPSIGNAL; a build of
# that one line on top can (its base is local, so no registry is asked).
set_stop_signal() {
  local out
  # The legacy builder needs nothing but the daemon; its deprecation notice is noise here.
  out="$(printf 'FROM %s\nSTOPSIGNAL %s\n' "$1" "$2" | DOCKER_BUILDKIT=0 docker build -q -t "$1" - 2>&1)" \
    || { echo "$out" >&2; die "could not set $1's stop signal"; }
}

# FerretDB's own command, from a vendored copy of scripts/ferretdb (the
# version.txt its release build writes must exist, and only a vendor tree
# can hold it).
build_ferretdb() {
  local out="$BARE_TOOLS/ferretdb-$FERRETDB_VERSION" src
  [[ -e "$out/.built" ]] && return
  src="$BARE_TOOLS/ferretdb-$FERRETDB_VERSION.src"
  log "building FerretDB $FERRETDB_VERSION"
  rm -rf "$src" && mkdir -p "$src" "$out"
  cp scripts/ferretdb/go.mod scripts/ferretdb/go.sum scripts/ferretdb/*.go "$src/"
  (cd "$src" && "$GO" mod vendor)
  echo "$FERRETDB_VERSION" >"$src/vendor/github.com/FerretDB/FerretDB/build/version/version.txt"
  (cd "$src" && CGO_ENABLED=0 "$GO" build -mod=vendor -trimpath -ldflags "-s -w" -o "$out/ferretdb" \
    github.com/FerretDB/FerretDB/cmd/ferretdb)
  rm -rf "$src"
  touch "$out/.built"
}

# make_root DIR: Debian with the datastores' packages, trimmed to what a
# container runs (no apt, dpkg scripts' Perl, docs, translations or JIT).
make_root() {
  local root="$1" mirror arch redis_version
  command -v debootstrap >/dev/null || die "debootstrap not found: apt-get install -y debootstrap"
  mirror="$(bash docker/base/debian-mirror.sh)"
  arch="$(dpkg --print-architecture)"
  log "debootstrap $SUITE ($arch) from $mirror, with PostgreSQL $PG_MAJOR and Redis"
  # dpkg's fsyncs are half of debootstrap's time; this root is rebuilt, never repaired.
  mkdir -p "$root/etc/dpkg/dpkg.cfg.d" "$BARE_TOOLS/debootstrap-cache"
  echo force-unsafe-io >"$root/etc/dpkg/dpkg.cfg.d/sandbox-unsafe-io"
  debootstrap --variant=minbase --arch="$arch" --include="postgresql-$PG_MAJOR,redis-server" \
    --cache-dir="$BARE_TOOLS/debootstrap-cache" "$SUITE" "$root" "$mirror" >"$root.log" 2>&1 \
    || { tail -n 30 "$root.log" >&2; die "debootstrap failed (log above)"; }
  redis_version="$(chroot "$root" redis-server --version)"
  [[ "$redis_version" == *" v=$REDIS_MAJOR."* ]] || die "$SUITE's Redis is not $REDIS_MAJOR.x: update REDIS_MAJOR"

  # The cluster, configuration and snakeoil key the packages made for a host.
  rm -rf "$root"/etc/dpkg/dpkg.cfg.d/sandbox-unsafe-io "$root"/etc/postgresql "$root"/var/lib/postgresql \
    "$root"/etc/redis "$root"/var/lib/redis "$root"/etc/ssl/private/ssl-cert-snakeoil.key \
    "$root"/etc/ssl/certs/ssl-cert-snakeoil.pem
  rm -rf "${root:?}"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* \
    "$root"/var/cache/* "$root"/var/lib/apt/lists/* "$root"/var/log/* "$root"/tmp/* "${root:?}"/dev/* \
    "$root"/run/* "$root"/usr/lib/apt "$root"/usr/bin/apt* "$root"/usr/lib/*-linux-gnu/libapt-*
  # Perl only runs dpkg's scripts and the pg_wrapper links in /usr/bin; the
  # images put PostgreSQL's own directory on PATH instead.
  find "$root/usr/bin" -lname '*pg_wrapper' -delete
  rm -rf "$root"/usr/bin/perl* "$root"/usr/share/perl "$root"/usr/share/perl5 "$root"/usr/lib/*-linux-gnu/perl* \
    "$root"/usr/lib/*-linux-gnu/libperl*
  # LLVM (100 MB) is only for JIT, which PostgreSQL skips when its provider is absent.
  rm -rf "$root"/usr/lib/*-linux-gnu/libLLVM* "$root/usr/lib/postgresql/$PG_MAJOR/lib/llvmjit"* \
    "$root/usr/lib/postgresql/$PG_MAJOR/lib/bitcode"
  # The images add their own user at 999 (the official images' uid and gid).
  sed -i -E '/^(postgres|redis):/d' "$root/etc/passwd" "$root/etc/group" "$root/etc/shadow" "$root/etc/gshadow"
  sed -i -E 's/^(ssl-cert:[^:]*:[^:]*):.*/\1:/' "$root/etc/group" "$root/etc/gshadow"
}

# stage ROOT DIR USER HOME: a copy of ROOT (hard links: files must be replaced,
# never changed in place) with USER at uid/gid 999
stage() {
  local root="$1" dir="$2" user="$3" home="$4"
  cp -al "$root" "$dir"
  rm "$dir/etc/passwd" "$dir/etc/group"
  { cat "$root/etc/passwd"; echo "$user:x:999:999::$home:/usr/sbin/nologin"; } >"$dir/etc/passwd"
  { cat "$root/etc/group"; echo "$user:x:999:"; } >"$dir/etc/group"
  chmod 644 "$dir/etc/passwd" "$dir/etc/group"
}
# install_new SRC DEST: a new file, so the root's hard link stays untouched
install_new() { rm -f "$2"; install -m 755 "$1" "$2"; }
owned_dir() { install -d -o 999 -g 999 -m "$1" "${@:2}"; }
# without_postgres DIR: PostgreSQL and what only it links against
without_postgres() {
  rm -rf "$1/usr/lib/postgresql" "$1/usr/share/postgresql" "$1/usr/share/postgresql-common" \
    "$1/etc/postgresql-common" "$1"/usr/lib/*-linux-gnu/libicu* "$1"/usr/lib/*-linux-gnu/libxml2*
}

build_datastores() {
  local root="$1" work="$2" dir
  # An image without PATH leaves it to the runtime; the chart's `command:` needs it.
  local path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

  dir="$work/postgres"
  stage "$root" "$dir" postgres /var/lib/postgresql
  rm -f "$dir"/usr/bin/redis-*
  owned_dir 755 "$dir/var/lib/postgresql"
  owned_dir 1777 "$dir/var/lib/postgresql/data"
  owned_dir 3777 "$dir/run/postgresql"
  install_new deploy/bare/images/postgres-entrypoint.sh "$dir/usr/local/bin/docker-entrypoint.sh"
  import_dir "$dir" "${REF[postgres]}" "$DATASTORES_HASH" "ENV PATH=/usr/lib/postgresql/$PG_MAJOR/bin:$path" \
    "ENV LANG=C.UTF-8" "ENV PGDATA=/var/lib/postgresql/data" "USER 999:999" "EXPOSE 5432" \
    'ENTRYPOINT ["docker-entrypoint.sh"]' 'CMD ["postgres"]'
  # Fast shutdown, as the official image: SIGTERM would wait for every client to leave.
  set_stop_signal "${REF[postgres]}" SIGINT

  dir="$work/redis"
  stage "$root" "$dir" redis /data
  without_postgres "$dir"
  owned_dir 755 "$dir/data"
  import_dir "$dir" "${REF[redis]}" "$DATASTORES_HASH" "ENV PATH=$path" "USER 999:999" "WORKDIR /data" \
    "EXPOSE 6379" 'CMD ["redis-server"]'

  dir="$work/mongo"
  stage "$root" "$dir" mongodb /data/db
  without_postgres "$dir"
  rm -f "$dir"/usr/bin/redis-*
  owned_dir 755 "$dir/data/db" "$dir/data/configdb"
  install_new "$BARE_TOOLS/ferretdb-$FERRETDB_VERSION/ferretdb" "$dir/usr/local/bin/ferretdb"
  install_new deploy/bare/images/mongo-entrypoint.sh "$dir/usr/local/bin/docker-entrypoint.sh"
  import_dir "$dir" "${REF[mongo]}" "$DATASTORES_HASH" "ENV PATH=$path" "ENV DO_NOT_TRACK=1" "USER 999:999" \
    "EXPOSE 27017" 'ENTRYPOINT ["docker-entrypoint.sh"]' 'CMD ["mongod"]'
}

# The static images: the binary where upstream's image has it, a passwd with
# nobody in it, /tmp, and for Prometheus its data directory (the operator
# mounts the volume there) and configuration directory.
build_static() {
  local name="$1" hash="$3" dir="$2/$1" bin path="${PATH_IN[$1]}" extra=()
  bin="$(wrapper_bin_dir "${MODULE_OF[$name]}")/$(basename "$path")"
  [[ -x "$bin" ]] || die "$bin is missing: deploy/bare/build.sh modules ${MODULE_OF[$name]}"
  mkdir -p "$dir/etc" "$dir$(dirname "$path")"
  install -d -m 1777 "$dir/tmp"
  install -m 755 "$bin" "$dir$path"
  printf '%s\n' root:x:0:0:root:/root:/sbin/nologin nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin \
    >"$dir/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/etc/group"
  chown -R 0:0 "$dir"
  if [[ "$name" == prometheus ]]; then
    install -m 755 "$(dirname "$bin")/promtool" "$dir/bin/promtool"
    install -d -o 65534 -g 65534 "$dir/prometheus" "$dir/etc/prometheus"
    extra=("WORKDIR /prometheus")
  fi
  import_dir "$dir" "${REF[$name]}" "$hash" "USER 65534:65534" "EXPOSE ${PORT_OF[$name]}" "${extra[@]}" \
    "ENTRYPOINT [\"$path\"]"
}

GO_JOB="" WORK=""
cleanup() {
  local mnt
  [[ -z "$GO_JOB" ]] || wait "$GO_JOB" || true
  [[ -n "$WORK" ]] || return 0
  # A failed debootstrap can leave /proc and /sys mounted in the root.
  while read -r mnt; do umount -l "$mnt" || true; done < <(findmnt -rn -o TARGET | grep -F "$WORK/" | sort -r)
  rm -rf "$WORK"
}

build() {
  local name datastores=0 stale_static=() modules=()
  local -A hash
  ensure_docker
  DATASTORES_HASH="$(inputs_hash deploy/bare/images/*.sh docker/base/debian-mirror.sh \
    scripts/ferretdb/go.mod scripts/ferretdb/go.sum scripts/ferretdb/tools.go)"
  for name in "${DATASTORES[@]}"; do
    current "${REF[$name]}" "$DATASTORES_HASH" || datastores=1
  done
  for name in "${STATIC_NAMES[@]}"; do
    hash[$name]="$(inputs_hash deploy/bare/modules/"${MODULE_OF[$name]}"/*)"
    current "${REF[$name]}" "${hash[$name]}" && continue
    stale_static+=("$name")
    [[ " ${modules[*]} " == *" ${MODULE_OF[$name]} "* ]] || modules+=("${MODULE_OF[$name]}")
  done

  if ((datastores || ${#stale_static[@]})); then
    WORK="$(mktemp -d "${TMPDIR:-/var/tmp}/sandbox-images.XXXXXX")"
    trap cleanup EXIT
  fi
  # Each Go build runs while the disk-bound step before the images that need
  # it does: FerretDB beside debootstrap, the static binaries beside the imports.
  if ((datastores)); then
    build_ferretdb &
    GO_JOB=$!
    make_root "$WORK/root"
    wait "$GO_JOB" || die "building FerretDB failed (log above)"
  fi
  if ((${#stale_static[@]})); then
    bash deploy/bare/build.sh modules "${modules[@]}" &
    GO_JOB=$!
  fi
  if ((datastores)); then build_datastores "$WORK/root" "$WORK"; fi
  if ((${#stale_static[@]})); then
    wait "$GO_JOB" || die "building the static binaries failed (log above)"
    for name in "${stale_static[@]}"; do
      build_static "$name" "$WORK" "${hash[$name]}"
    done
  fi
  GO_JOB=""
  for name in "${DATASTORES[@]}" "${STATIC_NAMES[@]}"; do
    echo "${REF[$name]}"
  done
}

case "${1:-build}" in
  build) build ;;
  list) list ;;
  *) die "usage: images.sh [build|list]" ;;
esac
