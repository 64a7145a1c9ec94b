#!/usr/bin/env bash
# Writes the pins of versions.env into the files that cannot read it themselves: .node-version, the
# collector's builder manifest, the chart versions of helmfile.yaml and the list of pins in docs/versions.md.
# Everything else (Dockerfiles, docker-compose.yaml, the helmfile values, the scripts) reads
# versions.env directly. Idempotent: a second run changes nothing.
#
# Usage: scripts/sync-versions.sh [--check]
#   --check  change nothing; list every file that is not current, with a diff, and exit 1 if any is.
# To move a pin: edit versions.env, run this script, commit both (docs/versions.md).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

check=false
case "${1:-}" in
  --check) check=true ;;
  '') ;;
  *)
    echo "usage: scripts/sync-versions.sh [--check]" >&2
    exit 2
    ;;
esac

# shellcheck source=/dev/null # KEY=value lines
source ./versions.env
stale=()

# render FILE: stdin is FILE's generated content (a redirection, not a pipe, so that `stale` survives);
# writes it, or with --check reports the difference.
render() {
  local file=$1 new
  new=$(mktemp)
  cat >"$new"
  if cmp -s "$new" "$file"; then
    rm -f "$new"
    return 0
  fi
  if [[ "$check" == true ]]; then
    stale+=("$file")
    diff -u "$file" "$new" | sed "s|$new|$file (from versions.env)|" >&2 || true
  else
    cat "$new" >"$file"
    echo "sync-versions: wrote $file"
  fi
  rm -f "$new"
}

# .node-version: for version managers (fnm, nodenv, asdf) and scripts/with-node.sh's users.
render .node-version < <(printf '%s\n' "$NODE_VERSION")

# collector/builder-config.yaml: the distribution's version and every component module. The 1.x
# (stable) modules are the confmap providers; every other module is released as 0.x.
render collector/builder-config.yaml < <(sed -E \
  -e "s/^(  version: ).*/\1$OTELCOL_VERSION/" \
  -e "/^  - gomod: go\.opentelemetry\.io\/collector\/confmap\//s/ v[0-9][^ ]*$/ v$OTELCOL_STABLE_VERSION/" \
  -e "/^  - gomod: /{/\/confmap\//!s/ v[0-9][^ ]*$/ v$OTELCOL_VERSION/}" \
  collector/builder-config.yaml)

# helmfile.yaml: the `version:` after each remote `chart:` (helmfile does not template helmfile.yaml).
render helmfile.yaml < <(awk -v kps="$KUBE_PROMETHEUS_STACK_CHART_VERSION" -v loki="$LOKI_CHART_VERSION" \
  -v tempo="$TEMPO_CHART_VERSION" -v otel="$OTEL_COLLECTOR_CHART_VERSION" '
  /^    chart: / {
    pin = ""
    if ($2 == "prometheus-community/kube-prometheus-stack") pin = kps
    else if ($2 == "grafana-community/loki") pin = loki
    else if ($2 == "grafana-community/tempo") pin = tempo
    else if ($2 == "open-telemetry/opentelemetry-collector") pin = otel
  }
  /^    version: / && pin != "" { print "    version: " pin; pin = ""; next }
  /^  - name: / { pin = "" }
  { print }
' helmfile.yaml)

# docs/versions.md: the list between its markers, one line per key of versions.env (a list, which
# Prettier leaves as it is).
table() {
  grep -E '^[A-Z][A-Z0-9_]*=' versions.env | while IFS='=' read -r key value; do
    printf -- '- `%s`: `%s`\n' "$key" "$value"
  done
}
begin='<!-- pins: generated from versions.env by scripts/sync-versions.sh -->'
end='<!-- /pins -->'
grep -qxF "$begin" docs/versions.md && grep -qxF "$end" docs/versions.md ||
  { echo "sync-versions: docs/versions.md lacks the markers $begin ... $end" >&2; exit 1; }
render docs/versions.md < <(awk -v begin="$begin" -v end="$end" -v table="$(table)" '
  $0 == begin { print; print ""; print table; print ""; skip = 1; next }
  $0 == end { skip = 0 }
  !skip { print }
' docs/versions.md)

# kind-config.yaml pins kind's node image by digest, which versions.env does not hold: only checked.
if ! grep -qE "^ *image: kindest/node:v${KUBERNETES_VERSION//./\\.}@sha256:[0-9a-f]{64}$" kind-config.yaml; then
  echo "sync-versions: kind-config.yaml: the node image is not kindest/node:v$KUBERNETES_VERSION@sha256:..." \
    "(set it, with its digest, from the release notes of kind $KIND_VERSION)" >&2
  stale+=(kind-config.yaml)
fi

if [[ ${#stale[@]} -gt 0 ]]; then
  echo "sync-versions: not current with versions.env: ${stale[*]} (run scripts/sync-versions.sh)" >&2
  exit 1
fi
