#!/usr/bin/env bash
# Builds the pinned external programs of node-observability-stack from their Go modules, at the
# versions in versions.env, and caches them under $HOME/.cache/node-observability-stack (NOS_CACHE_DIR
# overrides it):
#   build/<tool>-<version>/   one directory per tool and version (sources module, binaries, recipe)
#   bin/                      symlinks: otelcol prometheus promtool helm helmfile docker-compose,
#                             etcd kube* kwok pod-security
#
# Usage: scripts/install-tools.sh [tool ...]      no tool = all of them
#   tools: otelcol prometheus (also builds promtool) helm helmfile compose (binary docker-compose)
#          etcd kubernetes kwok pod-security
#
# Only permissively licensed modules are built. Grafana, Loki, Tempo, Mimir, Pyroscope, Alloy and k6
# are AGPL (or depend on AGPL modules): this project never fetches or builds them; compose and Helm
# deploy their official images, which users pull. test/config/licences.test.ts keeps it so.
#
# Idempotent: a tool whose binaries were built from the same recipe (module, version, flags, and for
# otelcol the content of collector/builder-config.yaml) is only re-linked, which takes no time and
# needs no Go. Cold builds need Go >= 1.21 and the Go module proxy; Go downloads a newer toolchain
# from the proxy when a pinned module needs one (GOTOOLCHAIN=auto; NOS_GOTOOLCHAIN overrides it).
#
# Why a throwaway build module instead of `go install module@version`: `go install` refuses modules
# whose go.mod has replace or exclude directives (Prometheus and Compose have them).
# For each tool this script generates, in the cache, a module that requires the pinned module and
# carries that module's own go.mod directives (requirements, replace, exclude), then runs go build:
# the binary gets exactly the dependency versions the upstream release builds with.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=/dev/null # KEY=value lines (versions.env)
source "$repo_root/versions.env"

cache_root="${NOS_CACHE_DIR:-$HOME/.cache/node-observability-stack}"
build_root="$cache_root/build"
bin_dir="$cache_root/bin"
all_tools=(otelcol prometheus helm helmfile compose etcd kubernetes kwok pod-security)

log() { printf 'install-tools: %s\n' "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

usage() {
  cat >&2 <<EOF
Usage: scripts/install-tools.sh [tool ...]
Builds pinned binaries into $bin_dir (no tool = all).
Tools: ${all_tools[*]} (promtool comes with prometheus, docker-compose with compose)
EOF
}

# shellcheck source=lib/go-build.sh
source "$repo_root/scripts/lib/go-build.sh"
# shellcheck source=lib/tools-observability.sh
source "$repo_root/scripts/lib/tools-observability.sh"
# shellcheck source=lib/tools-kubernetes.sh
source "$repo_root/scripts/lib/tools-kubernetes.sh"

# ---------------------------------------------------------------------------------------------------

tools=()
for arg in "$@"; do
  case "$arg" in
    -h | --help)
      usage
      exit 0
      ;;
    otelcol | prometheus | helm | helmfile | compose | etcd | kubernetes | kwok | pod-security) tools+=("$arg") ;;
    kube | kube-apiserver | kube-controller-manager | kube-scheduler | kubectl) tools+=(kubernetes) ;;
    promtool) tools+=(prometheus) ;;
    docker-compose) tools+=(compose) ;;
    *)
      usage
      die "unknown tool '$arg'"
      ;;
  esac
done
[[ ${#tools[@]} -gt 0 ]] || tools=("${all_tools[@]}")

mkdir -p "$build_root" "$bin_dir"
# One install at a time per cache (parallel test runs may all call this script).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$cache_root/.install.lock"
  flock 9
fi

# CPU seconds (user + system) of the finished child processes (go, compile, link) into cpu_now.
# `times` must run in this shell (in a command substitution it would report the subshell).
times_file="$cache_root/.times"
read_cpu() {
  times >"$times_file"
  cpu_now=$(awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); s += t[1] * 60 + t[2] } printf "%d", s }' "$times_file")
}

total_start=$SECONDS
read_cpu
total_cpu=$cpu_now
n=0
for tool in "${tools[@]}"; do
  n=$((n + 1))
  start=$SECONDS
  read_cpu
  cpu=$cpu_now
  log "[$n/${#tools[@]}] $tool"
  "install_${tool//-/_}"
  read_cpu
  log "[$n/${#tools[@]}] $tool done in $((SECONDS - start))s (CPU $((cpu_now - cpu))s)"
done
read_cpu
rm -f "$times_file"

log "all done in $((SECONDS - total_start))s (CPU $((cpu_now - total_cpu))s); binaries in $bin_dir:"
for b in "$bin_dir"/*; do
  [[ -e "$b" ]] && printf '  %s -> %s\n' "$(basename "$b")" "$(readlink "$b")"
done
