#!/usr/bin/env bash
# How install-tools.sh builds a pinned Go module: the Go check, the throwaway build module, the cache's recipe bookkeeping.
# Sourced by scripts/install-tools.sh, whose variables (repo_root, build_root, bin_dir, the pins of
# versions.env) and log/die it uses.
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

