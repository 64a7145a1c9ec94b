#!/usr/bin/env bash
# Recipes of the observability tools: the collector (ocb), Prometheus and promtool, helm, helmfile, the compose CLI.
# Sourced by scripts/install-tools.sh, whose variables (repo_root, build_root, bin_dir, the pins of
# versions.env) and log/die it uses.
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

