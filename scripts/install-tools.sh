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

# ---------------------------------------------------------------------------------------------------
# Go environment (only checked when something has to be built).

go_checked=false
require_go() {
  [[ "$go_checked" == true ]] && return 0
  if ! command -v go >/dev/null 2>&1; then
    die "Go is not installed (no 'go' on PATH), and $1 has to be built from source.
  Install Go >= 1.21 (https://go.dev/doc/install, or your package manager: apt-get install golang-go,
  brew install go), then run this script again. Already built tools need no Go."
  fi
  local v
  v=$(go env GOVERSION)
  if [[ ! "$v" =~ ^go1\.(2[1-9]|[3-9][0-9])([^0-9]|$) ]]; then
    die "Go $v is too old: Go >= 1.21 is needed (it downloads the newer toolchain the pinned modules need)"
  fi
  # The pinned modules need up to Go 1.26.x: let Go fetch that toolchain from the module proxy when the
  # installed one is older (GOTOOLCHAIN=local would fail instead).
  export GOTOOLCHAIN="${NOS_GOTOOLCHAIN:-auto}"
  # Static binaries, no C toolchain needed (what the upstream release builds do).
  export CGO_ENABLED=0
  log "using $(go version) (GOTOOLCHAIN=$GOTOOLCHAIN, GOPROXY=$(go env GOPROXY))"
  go_checked=true
}

# Runs a command, printing a heartbeat every 30s so that a long cold build does not look hung.
run_long() {
  local label=$1
  shift
  local start=$SECONDS next=$((SECONDS + 30)) pid rc=0
  "$@" &
  pid=$!
  # shellcheck disable=SC2064 # expand $pid now
  trap "kill $pid 2>/dev/null; exit 130" INT TERM
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if ((SECONDS >= next)) && kill -0 "$pid" 2>/dev/null; then
      log "  ... still $label ($((SECONDS - start))s)"
      next=$((SECONDS + 30))
    fi
  done
  wait "$pid" || rc=$?
  trap - INT TERM
  return "$rc"
}

json_field() { # json_field NAME < `go mod download -json` output
  sed -n "s/^[[:space:]]*\"$1\": \"\(.*\)\",\{0,1\}\$/\1/p" | head -n 1
}

# ---------------------------------------------------------------------------------------------------
# Cache bookkeeping: a tool is up to date when its directory holds the binaries and the same recipe.

tool_dir=""
tool_recipe=""

is_current() { # is_current BINARY...
  [[ -f "$tool_dir/.recipe" ]] || return 1
  [[ "$(cat "$tool_dir/.recipe")" == "$tool_recipe" ]] || return 1
  local b
  for b in "$@"; do [[ -x "$tool_dir/bin/$b" ]] || return 1; done
}

link_bins() { # link_bins BINARY...
  mkdir -p "$bin_dir"
  local b
  for b in "$@"; do ln -sfn "$tool_dir/bin/$b" "$bin_dir/$b"; done
}

# rewrite_go_mod NAME MODULE_DIR [NESTED_VERSION] < go.mod: the upstream go.mod for the build module.
#  - module line renamed (the build module is not the upstream module);
#  - relative replace targets (=> ./pkg/push) made absolute: they point into the downloaded module;
#    a target that is not in the module zip (a nested module, which Go leaves out of the parent's
#    zip) is dropped, so the required version of that module comes from the proxy instead; with
#    NESTED_VERSION it is replaced by that published version instead (Kubernetes requires its staging
#    modules k8s.io/api... at v0.0.0 and publishes each release of them as v0.MINOR.PATCH);
#  - `tool` directives dropped (the upstream's development tools, not needed for the binaries).
rewrite_go_mod() {
  local name=$1 mod_dir=$2 nested_version=${3:-} line target in_tool=false
  local relative_replace='=>[[:space:]]*(\.\.?/[^[:space:]]*)'
  local replaced_module='^[[:space:]]*(replace[[:space:]]+)?([^[:space:]]+)[[:space:]]*=>'
  while IFS= read -r line || [[ -n "$line" ]]; do
    if [[ "$in_tool" == true ]]; then
      [[ "$line" =~ ^\) ]] && in_tool=false
      continue
    fi
    if [[ "$line" =~ ^tool[[:space:]]*\( ]]; then
      in_tool=true
      continue
    fi
    [[ "$line" =~ ^tool[[:space:]] ]] && continue
    if [[ "$line" =~ ^module[[:space:]] ]]; then
      printf 'module nos-build/%s\n' "$name"
      continue
    fi
    if [[ "$line" =~ $relative_replace ]]; then
      target=${BASH_REMATCH[1]}
      if [[ -d "$mod_dir/$target" ]]; then
        line=${line/"$target"/"$mod_dir/$target"}
      elif [[ -n "$nested_version" && "$line" =~ $replaced_module ]]; then
        line="${line%%=>*}=> ${BASH_REMATCH[2]} $nested_version"
      else
        log "$name: dropping '${line#"${line%%[![:space:]]*}"}': $target is a nested module, not in the module zip; using its required version"
        continue
      fi
    fi
    printf '%s\n' "$line"
  done
}

# build_module NAME MODULE VERSION TAGS LDFLAGS BINARY=PACKAGE...
# Generates $tool_dir/src (a module requiring MODULE@VERSION with MODULE's go.mod directives) and
# builds each PACKAGE into $tool_dir/bin/BINARY.
# Two optional settings, for modules whose own main package cannot be built from the module zip:
#   build_main=DIR        copies DIR/*.go (a main package of this repository, tools/) into the build
#                         module, whose PACKAGE is then `.`;
#   build_nested=VERSION  see rewrite_go_mod.
# After build_module: the downloaded module's directory (read only).
build_main=""
build_nested=""
module_dir=""
build_module() {
  local name=$1 module=$2 version=$3 tags=$4 ldflags=$5
  shift 5
  local src="$tool_dir/src" info mod_dir go_mod
  rm -rf "$src" "${tool_dir:?}/bin" "$tool_dir/.recipe"
  mkdir -p "$src" "$tool_dir/bin"

  log "$name: downloading $module@$version"
  if ! info=$(cd "$tool_dir" && run_long "downloading $module" go mod download -json "$module@$version"); then
    printf '%s\n' "$info" >&2
    die "$name: could not download $module@$version from the Go module proxy ($(go env GOPROXY))"
  fi
  mod_dir=$(json_field Dir <<<"$info")
  module_dir=$mod_dir
  go_mod=$(json_field GoMod <<<"$info")
  [[ -d "$mod_dir" && -f "$go_mod" ]] || die "$name: unexpected 'go mod download' output: $info"

  # The upstream go.mod, renamed, plus a requirement on the upstream module itself.
  {
    printf '// Generated by node-observability-stack scripts/install-tools.sh: builds %s@%s\n' "$module" "$version"
    printf '// with the requirements, replace and exclude directives of its own go.mod.\n'
    rewrite_go_mod "$name" "$mod_dir" "$build_nested" <"$go_mod"
    printf '\nrequire %s %s\n' "$module" "$version"
  } >"$src/go.mod"
  if [[ -f "$mod_dir/go.sum" ]]; then
    cp "$mod_dir/go.sum" "$src/go.sum"
    chmod u+w "$src/go.sum"
  fi

  [[ -z "$build_main" ]] || cp "$build_main"/*.go "$src/"

  local spec binary pkg
  for spec in "$@"; do
    binary=${spec%%=*}
    pkg=${spec#*=}
    log "$name: go build $pkg -> $binary (a cold build takes minutes)"
    # -mod=mod: record the checksums of the dependencies in the generated go.sum (verified against the
    # checksum database), never changing the requirements.
    # -p 2: at most two compilers or linkers at once (the Kubernetes link alone needs about 3 GB).
    run_long "building $binary" go build -C "$src" -p 2 -mod=mod -trimpath -tags "$tags" \
      -ldflags "-s -w $ldflags" -o "$tool_dir/bin/$binary" "$pkg" ||
      die "$name: go build of $pkg failed (see above)"
  done
}

# ---------------------------------------------------------------------------------------------------
# The tools.

install_otelcol() {
  local manifest="$repo_root/collector/builder-config.yaml" hash ocb_dir
  [[ -f "$manifest" ]] || die "otelcol: $manifest is missing"
  # Every component of the manifest must be at the pinned collector version.
  local bad
  bad=$(grep -E '^[[:space:]]*- gomod:' "$manifest" |
    grep -vE "[[:space:]]v($OTELCOL_VERSION|$OTELCOL_STABLE_VERSION)[[:space:]]*\$" || true)
  [[ -z "$bad" ]] || die "otelcol: components in $manifest not at v$OTELCOL_VERSION/v$OTELCOL_STABLE_VERSION:
$bad"
  hash=$(sha256sum "$manifest" | cut -c1-12)
  tool_dir="$build_root/otelcol-$OTELCOL_VERSION"
  tool_recipe="otelcol $OTELCOL_VERSION builder-config.yaml sha256:$hash"
  if is_current otelcol; then
    link_bins otelcol
    log "otelcol $OTELCOL_VERSION: up to date"
    return 0
  fi
  require_go "otelcol"
  rm -rf "$tool_dir"
  mkdir -p "$tool_dir/bin"

  ocb_dir="$build_root/ocb-$OTELCOL_VERSION"
  if [[ ! -x "$ocb_dir/builder" ]]; then
    log "otelcol: building the OpenTelemetry Collector Builder v$OTELCOL_VERSION"
    (export GOBIN="$ocb_dir" && run_long "building ocb" \
      go install -trimpath "go.opentelemetry.io/collector/cmd/builder@v$OTELCOL_VERSION") ||
      die "otelcol: could not build go.opentelemetry.io/collector/cmd/builder@v$OTELCOL_VERSION"
  fi

  # ocb writes the generated sources and the binary to dist.output_path (./_build), relative to the
  # working directory: run it in the cache directory.
  cp "$manifest" "$tool_dir/builder-config.yaml"
  log "otelcol: generating and building the collector with ocb (a cold build takes minutes)"
  (cd "$tool_dir" && run_long "building otelcol" "$ocb_dir/builder" --config=builder-config.yaml) ||
    die "otelcol: the OpenTelemetry Collector Builder failed (see above)"
  mv "$tool_dir/_build/otelcol" "$tool_dir/bin/otelcol"
  printf '%s\n' "$tool_recipe" >"$tool_dir/.recipe"
  link_bins otelcol
}

install_prometheus() {
  local v="$PROMETHEUS_VERSION" gv="$PROMETHEUS_GO_VERSION"
  local p=github.com/prometheus/common/version
  # remove_all_sd: leave out the cloud/Kubernetes service discoveries (static, file and http SD stay):
  # the local processes only scrape fixed targets, and the build gets much faster. The web UI assets
  # are not in the Go module (they are built with npm): the local binary serves the HTTP API, not the
  # UI; use Grafana (or the image in compose/Kubernetes) for a UI.
  local tags="netgo,remove_all_sd"
  local ldflags="-X $p.Version=$v -X $p.Branch=$gv -X $p.BuildUser=node-observability-stack"
  tool_dir="$build_root/prometheus-$v"
  tool_recipe="prometheus $gv tags=$tags ldflags=$ldflags"
  if ! is_current prometheus promtool; then
    require_go prometheus
    build_module prometheus github.com/prometheus/prometheus "$gv" "$tags" "$ldflags" \
      prometheus=github.com/prometheus/prometheus/cmd/prometheus \
      promtool=github.com/prometheus/prometheus/cmd/promtool
    printf '%s\n' "$tool_recipe" >"$tool_dir/.recipe"
  else
    log "prometheus $v: up to date"
  fi
  link_bins prometheus promtool
}

install_helm() {
  local v="$HELM_VERSION" tags=""
  local ldflags="-X helm.sh/helm/v4/internal/version.version=v$v"
  tool_dir="$build_root/helm-$v"
  tool_recipe="helm v$v tags=$tags ldflags=$ldflags"
  if ! is_current helm; then
    require_go helm
    build_module helm helm.sh/helm/v4 "v$v" "$tags" "$ldflags" helm=helm.sh/helm/v4/cmd/helm
    printf '%s\n' "$tool_recipe" >"$tool_dir/.recipe"
  else
    log "helm $v: up to date"
  fi
  link_bins helm
}

# helmfile renders helmfile.yaml and its .gotmpl values offline for the tests (helmfile build/template).
install_helmfile() {
  local v="$HELMFILE_VERSION" tags=""
  local ldflags="-X go.szostok.io/version.version=v$v"
  tool_dir="$build_root/helmfile-$v"
  tool_recipe="helmfile v$v tags=$tags ldflags=$ldflags"
  if ! is_current helmfile; then
    require_go helmfile
    build_module helmfile github.com/helmfile/helmfile "v$v" "$tags" "$ldflags" \
      helmfile=github.com/helmfile/helmfile
    printf '%s\n' "$tool_recipe" >"$tool_dir/.recipe"
  else
    log "helmfile $v: up to date"
  fi
  link_bins helmfile
}

install_compose() {
  local v="$COMPOSE_VERSION" tags=""
  local ldflags="-X github.com/docker/compose/v5/internal.Version=v$v"
  tool_dir="$build_root/compose-$v"
  tool_recipe="compose v$v tags=$tags ldflags=$ldflags"
  if ! is_current docker-compose; then
    require_go compose
    build_module compose github.com/docker/compose/v5 "v$v" "$tags" "$ldflags" \
      docker-compose=github.com/docker/compose/v5/cmd
    printf '%s\n' "$tool_recipe" >"$tool_dir/.recipe"
  else
    log "compose $v: up to date"
  fi
  link_bins docker-compose
}

# The local Kubernetes control plane of scripts/control-plane.sh: etcd, one binary for kube-apiserver,
# kube-controller-manager, kube-scheduler and kubectl, and kwok (fake nodes). Their main packages are
# in tools/ (the upstream ones cannot be built from the module zips), so the recipe holds their hash.
main_hash() { cat "$repo_root/scripts/go-tools/$1"/*.go | sha256sum | cut -c1-12; }

install_etcd() {
  # No ldflags: etcd's version is a constant of its api module; its GitSHA stays "Not provided".
  local v="$ETCD_VERSION" tags="" ldflags=""
  tool_dir="$build_root/etcd-$v"
  tool_recipe="etcd v$v main sha256:$(main_hash etcd) tags=$tags ldflags=$ldflags"
  if ! is_current etcd; then
    require_go etcd
    build_main="$repo_root/scripts/go-tools/etcd"
    build_module etcd go.etcd.io/etcd/server/v3 "v$v" "$tags" "$ldflags" etcd=.
    build_main=""
    printf '%s\n' "$tool_recipe" >"$tool_dir/.recipe"
  else
    log "etcd $v: up to date"
  fi
  link_bins etcd
}

# Without the version ldflags /version says v0.0.0, and Helm refuses every chart with a kubeVersion.
kube_programs=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
install_kubernetes() {
  local v="$KUBERNETES_BINARIES_VERSION" tags="" major minor
  major=${v%%.*}
  minor=${v#*.}
  minor=${minor%%.*}
  local staging="v0.$minor.${v##*.}" ldflags="" pkg
  for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    ldflags+="-X $pkg.gitVersion=v$v -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean "
  done
  ldflags=${ldflags% }
  tool_dir="$build_root/kubernetes-$v"
  tool_recipe="kubernetes v$v staging $staging main sha256:$(main_hash kubernetes) tags=$tags ldflags=$ldflags"
  if ! is_current kube "${kube_programs[@]}"; then
    require_go kubernetes
    build_main="$repo_root/scripts/go-tools/kubernetes"
    build_nested="$staging"
    build_module kubernetes k8s.io/kubernetes "v$v" "$tags" "$ldflags" kube=.
    build_main=""
    build_nested=""
    for pkg in "${kube_programs[@]}"; do ln -sfn kube "$tool_dir/bin/$pkg"; done
    printf '%s\n' "$tool_recipe" >"$tool_dir/.recipe"
  else
    log "kubernetes $v: up to date"
  fi
  link_bins kube "${kube_programs[@]}"
}

# kwok acts only through its Stages (what happens to a Node or Pod in which state); the controller has
# none built in. share/stages.yaml: the ones its module ships for a fast fake node (Ready at once, a
# Lease heartbeat) and pods (Running and Ready at once, completed, deleted without a kubelet).
kwok_stages=(node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease
  pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete)
install_kwok() {
  local v="$KWOK_VERSION" tags="" stage
  local ldflags="-X sigs.k8s.io/kwok/pkg/consts.Version=$v"
  tool_dir="$build_root/kwok-$v"
  tool_recipe="kwok v$v stages=${kwok_stages[*]} tags=$tags ldflags=$ldflags"
  if ! is_current kwok || [[ ! -f "$tool_dir/share/stages.yaml" ]]; then
    require_go kwok
    build_module kwok sigs.k8s.io/kwok "v$v" "$tags" "$ldflags" kwok=sigs.k8s.io/kwok/cmd/kwok
    mkdir -p "$tool_dir/share"
    for stage in "${kwok_stages[@]}"; do
      printf -- '---\n'
      cat "$module_dir/kustomize/stage/$stage.yaml"
    done >"$tool_dir/share/stages.yaml"
    printf '%s\n' "$tool_recipe" >"$tool_dir/.recipe"
  else
    log "kwok $v: up to date"
  fi
  link_bins kwok
}

# The Pod Security admission controller's own evaluator, for the tests' checks of pod specs. Its module
# is one of Kubernetes' staging modules: the same release as the control plane's binaries.
install_pod_security() {
  local v="$KUBERNETES_BINARIES_VERSION" tags="" ldflags="" minor
  minor=${v#*.}
  minor=${minor%%.*}
  local staging="v0.$minor.${v##*.}"
  tool_dir="$build_root/pod-security-$staging"
  tool_recipe="pod-security $staging main sha256:$(main_hash pod-security) tags=$tags ldflags=$ldflags"
  if ! is_current pod-security; then
    require_go pod-security
    build_main="$repo_root/scripts/go-tools/pod-security"
    build_module pod-security k8s.io/pod-security-admission "$staging" "$tags" "$ldflags" pod-security=.
    build_main=""
    printf '%s\n' "$tool_recipe" >"$tool_dir/.recipe"
  else
    log "pod-security $staging: up to date"
  fi
  link_bins pod-security
}

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
