#!/usr/bin/env bash
# `npm run up`: the whole stack on a local kind cluster, in one command.
#   1. preflight: docker (running), kind, kubectl, helm, helmfile, the helm-diff plugin, at the versions
#      pinned in versions.env, with what to do when one is missing;
#   2. creates the kind cluster `node-observability-stack` (kind-config.yaml) unless it exists;
#   3. builds the two service images from the repository root and loads them into the cluster;
#   4. `helmfile apply`: installs or upgrades only what changed, in `needs:` order, waiting for readiness;
#   5. prints the URLs and how to read the Grafana admin password.
# Idempotent: a second run with no change in the repository builds the same images (same tags), finds
# them already loaded, and helmfile finds no difference to apply.
# Environment: NOS_SKIP_PREFLIGHT=1 skips the version checks (not the presence checks).
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

# shellcheck disable=SC1091 # versions.env: KEY=value lines, see the file
source ./versions.env

CLUSTER=node-observability-stack
CONTEXT="kind-$CLUSTER"
SERVICES=(user-service api-gateway)

# Tools built by scripts/install-tools.sh come first.
cache_bin="${NOS_CACHE_DIR:-$HOME/.cache/node-observability-stack}/bin"
export PATH="$cache_bin:$PATH"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
fail() {
  printf 'up: %s\n' "$*" >&2
  exit 1
}

# version_ge A B: true when version A >= version B (dotted numbers; a leading "v" and any suffix ignored).
version_ge() {
  local a b
  a=$(printf '%s' "$1" | sed -E 's/^v//; s/[^0-9.].*$//')
  b=$(printf '%s' "$2" | sed -E 's/^v//; s/[^0-9.].*$//')
  [ "$(printf '%s\n%s\n' "$b" "$a" | sort -t. -k1,1n -k2,2n -k3,3n | head -n1)" = "$b" ]
}

require() { # require NAME HOW-TO-INSTALL
  command -v "$1" >/dev/null 2>&1 || fail "$1 is not installed. $2"
}

check_min() { # check_min NAME FOUND MINIMUM HOW-TO-INSTALL
  [ "${NOS_SKIP_PREFLIGHT:-}" = 1 ] && return 0
  version_ge "$2" "$3" || fail "$1 $2 is too old: $3 or newer is needed. $4"
}

# --- 1. preflight --------------------------------------------------------------------------------------
say "preflight"
require docker "Install Docker Desktop (macOS, Windows) or Docker Engine (Linux): https://docs.docker.com/get-docker/"
docker info >/dev/null 2>&1 ||
  fail "the Docker daemon is not reachable ('docker info' fails): start Docker Desktop / dockerd and retry."

require kind "Install kind v$KIND_VERSION: 'go install sigs.k8s.io/kind@v$KIND_VERSION' or https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
kind_found=$(kind version | sed -nE 's/^kind v?([0-9.]+).*/\1/p')
check_min kind "${kind_found:-0}" "$KIND_VERSION" "Install kind v$KIND_VERSION (see above)."

require kubectl "Install kubectl $KUBERNETES_VERSION (within one minor version of the cluster): https://kubernetes.io/docs/tasks/tools/"
kubectl_found=$(kubectl version --client -o yaml 2>/dev/null | sed -nE 's/^ *gitVersion: v?([0-9.]+).*/\1/p' | head -n1)
kubectl_min="${KUBERNETES_VERSION%.*}"
kubectl_min="${kubectl_min%.*}.$((${kubectl_min#*.} - 1)).0"
check_min kubectl "${kubectl_found:-0}" "$kubectl_min" "kubectl must be within one minor version of Kubernetes $KUBERNETES_VERSION."

require helm "Run 'bash scripts/install-tools.sh helm' (builds Helm $HELM_VERSION into $cache_bin) or see https://helm.sh/docs/intro/install/"
helm_found=$(helm version --template '{{.Version}}' 2>/dev/null || true)
# helmfile needs Helm >= 3.18.6 (3.x) or 4.x.
check_min helm "${helm_found:-0}" "3.18.6" "Install Helm $HELM_VERSION: 'bash scripts/install-tools.sh helm'."

require helmfile "Install helmfile v$HELMFILE_VERSION: https://helmfile.readthedocs.io/en/latest/#installation (or 'bash scripts/install-tools.sh helmfile')"
export HELMFILE_UPGRADE_NOTICE_DISABLED=1 # no release check against github.com on every run
helmfile_found=$(helmfile version -o short 2>/dev/null | head -n1 || true)
check_min helmfile "${helmfile_found:-0}" "$HELMFILE_VERSION" "Install helmfile v$HELMFILE_VERSION (see above)."

diff_found=$(helm plugin list 2>/dev/null | awk '$1 == "diff" { print $2 }')
if [ -z "$diff_found" ]; then
  case "$helm_found" in
    v3.*) verify_flag="" ;;
    *) verify_flag=" --verify=false" ;; # Helm 4 verifies plugin signatures; a Git source has none.
  esac
  fail "the helm-diff plugin is missing (helmfile apply uses it to change only what differs). Install it:
  helm plugin install https://github.com/databus23/helm-diff --version v$HELM_DIFF_VERSION$verify_flag"
fi
check_min helm-diff "$diff_found" "$HELM_DIFF_VERSION" "helm plugin update diff"

# Docker Desktop's VM has its own CPU / memory budget: the stack requests about 1 CPU and 2 GiB, with
# limits summing to about 4 CPUs and 5.5 GiB, plus about 1 GiB for Kubernetes itself (README, "Resources").
docker_mem=$(docker info --format '{{.MemTotal}}' 2>/dev/null || echo 0)
docker_cpus=$(docker info --format '{{.NCPU}}' 2>/dev/null || echo 0)
if [ "${docker_mem:-0}" -lt $((6 * 1024 * 1024 * 1024)) ] || [ "${docker_cpus:-0}" -lt 4 ]; then
  printf 'up: warning: Docker has %s CPUs and %s MiB of memory; 4 CPUs and 6 GiB are recommended\n' \
    "$docker_cpus" "$((docker_mem / 1024 / 1024))" >&2
fi
printf 'docker ok, kind %s, kubectl %s, helm %s, helmfile %s, helm-diff %s\n' \
  "$kind_found" "$kubectl_found" "$helm_found" "$helmfile_found" "$diff_found"

# --- 2. cluster ----------------------------------------------------------------------------------------
if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  say "kind cluster $CLUSTER exists"
  # Restores the kubeconfig entry (context $CONTEXT) if it was removed; harmless otherwise.
  kind export kubeconfig --name "$CLUSTER" >/dev/null
else
  say "creating kind cluster $CLUSTER"
  kind create cluster --config kind-config.yaml --wait 180s
fi
kubectl --context "$CONTEXT" wait --for=condition=Ready nodes --all --timeout=180s >/dev/null

# --- 3. images -----------------------------------------------------------------------------------------
# Tag = <package.json version>-<first 12 hex digits of the image ID>: content-addressed, so an unchanged
# tree gives the same tag (nothing to roll out) and any change gives a new one (the pods roll).
# The tag is also the services' service.version (chart/: OTEL_RESOURCE_ATTRIBUTES).
for svc in "${SERVICES[@]}"; do
  say "building image $svc"
  docker build --file "services/$svc/Dockerfile" --tag "$svc:build" .
  id=$(docker image inspect --format '{{.Id}}' "$svc:build")
  id=${id#sha256:}
  version=$(sed -nE 's/^ *"version": *"([^"]+)".*/\1/p' "services/$svc/package.json" | head -n1)
  tag="${version:-0.0.0}-${id:0:12}"
  docker tag "$svc:build" "$svc:$tag"
  # kind skips the copy when the nodes already have this image ID.
  kind load docker-image "$svc:$tag" --name "$CLUSTER"
  var="NOS_$(printf '%s' "$svc" | tr '[:lower:]-' '[:upper:]_')_TAG"
  export "$var=$tag"
  printf '%s=%s\n' "$var" "$tag"
done

# --- 4. releases ---------------------------------------------------------------------------------------
say "helmfile apply"
# --skip-diff-on-install: a release that does not exist yet is installed without a diff first (its
# diff would be the whole chart); existing releases are diffed and upgraded only if something changed.
helmfile --file helmfile.yaml apply --skip-diff-on-install --suppress-secrets

say "waiting for the workloads"
# helmfile already waited for each release; this also covers releases it found unchanged.
for ns in observability apps; do
  kubectl --context "$CONTEXT" -n "$ns" wait --for=condition=Available deployment --all --timeout=300s >/dev/null
  for sts in $(kubectl --context "$CONTEXT" -n "$ns" get statefulset -o name); do
    kubectl --context "$CONTEXT" -n "$ns" rollout status "$sts" --timeout=300s >/dev/null
  done
done
for _ in $(seq 1 30); do
  curl -fsS -o /dev/null http://localhost:8080/readyz 2>/dev/null && break
  sleep 2
done
curl -fsS -o /dev/null http://localhost:8080/readyz ||
  fail "api-gateway does not answer on http://localhost:8080/readyz (is port 8080 taken on this machine?)"

# --- 5. where to look ----------------------------------------------------------------------------------
cat <<EOF

node-observability-stack is up on kind cluster $CLUSTER (kubectl context $CONTEXT).

  api-gateway  http://localhost:8080/user/123      (404: http://localhost:8080/user/999)
  Grafana      http://localhost:3000               user admin, password:
                 kubectl --context $CONTEXT -n observability get secret grafana-admin \\
                   -o jsonpath='{.data.admin-password}' | base64 -d; echo
  Prometheus   http://localhost:9090               alerts: http://localhost:9090/alerts

Some traffic:     for i in \$(seq 1 200); do curl -s -o /dev/null http://localhost:8080/user/123; done
An incident:      kubectl --context $CONTEXT -n apps port-forward service/user-service 8081:8081 &
                  curl -X PUT -H 'content-type: application/json' \\
                    -d '{"errorRate":0.3,"latencyMs":800}' http://localhost:8081/admin/faults
Tear it all down: npm run down
EOF
