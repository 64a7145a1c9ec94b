#!/usr/bin/env bash
# `npm run up`: the whole stack on a local kind cluster, in one command.
#   1. preflight: docker (running, cgroup v2), kind, kubectl, helm, helmfile, the helm-diff plugin, at the
#      versions pinned in versions.env, and the host ports of kind-config.yaml free; every problem
#      found is reported in one run, with what to do about it;
#   2. creates the kind cluster `node-observability-stack` (kind-config.yaml) unless it exists;
#   3. builds the two service images (services/Dockerfile) from the repository root and loads them into
#      the cluster;
#   4. labels the namespaces (namespaces.yaml) and runs `helmfile apply`: installs or upgrades only what
#      changed, in `needs:` order, waiting for readiness;
#   5. prints the URLs and how to read the Grafana admin password.
# Idempotent: a second run with no change in the repository builds the same images (same tags), finds
# them already loaded, and helmfile finds no difference to apply.
# Usage: scripts/up.sh [--preflight]      --preflight: only the checks of step 1.
# Environment: NOS_SKIP_PREFLIGHT=1 skips the version checks (not the presence checks);
# NOS_KIND_CONFIG names another kind configuration (default kind-config.yaml);
# NOS_KUBE_CONTEXT=NAME installs into the existing cluster of that kubeconfig context instead of kind
#   (Docker Desktop, minikube, any cluster; docs/kind.md "An existing cluster"): no kind, no cluster
#   created, no image loaded (the cluster must find the images itself), no kind port checks;
# NOS_API_GATEWAY_TAG and NOS_USER_SERVICE_TAG (with NOS_KUBE_CONTEXT): the tags of service images the
#   cluster already has; no image is built then (and Docker is not needed);
# NOS_RELEASES=a,b only these releases of helmfile.yaml (helmfile's --selector name=...);
# NOS_HELMFILE_SKIP_DEPS=1 no chart repository is contacted (helmfile's --skip-deps): for releases whose
#   charts are local (chart/), or charts already in Helm's cache, where the repositories are unreachable.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

# shellcheck disable=SC1091 # versions.env: KEY=value lines, see the file
source ./versions.env

CLUSTER=node-observability-stack
SERVICES=(user-service api-gateway)
KIND_CONFIG="${NOS_KIND_CONFIG:-kind-config.yaml}"
# kind mode (the default) or an existing cluster (NOS_KUBE_CONTEXT).
if [ -n "${NOS_KUBE_CONTEXT:-}" ]; then
  existing=true
  CONTEXT=$NOS_KUBE_CONTEXT
else
  existing=false
  CONTEXT="kind-$CLUSTER"
fi
# The presync hook of helmfile.yaml reads it too.
export NOS_KUBE_CONTEXT="$CONTEXT"
# Images given by tag (existing cluster only): nothing to build.
build_images=true
if [ "$existing" = true ] && [ -n "${NOS_API_GATEWAY_TAG:-}" ] && [ -n "${NOS_USER_SERVICE_TAG:-}" ]; then
  build_images=false
fi
# NOS_RELEASES=a,b -> --selector name=a --selector name=b (helmfile ORs repeated selectors).
selectors=()
if [ -n "${NOS_RELEASES:-}" ]; then
  for r in $(printf '%s' "$NOS_RELEASES" | tr ',' ' '); do selectors+=(--selector "name=$r"); done
fi
[ "${NOS_HELMFILE_SKIP_DEPS:-}" != 1 ] || selectors+=(--skip-deps)

# Tools built by scripts/install-tools.sh come first.
cache_bin="${NOS_CACHE_DIR:-$HOME/.cache/node-observability-stack}/bin"
export PATH="$cache_bin:$PATH"

# Bold headings on a terminal only: no escape codes in logs and pipes.
if [ -t 1 ]; then
  say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
else
  say() { printf '==> %s\n' "$*"; }
fi
fail() {
  printf 'up: %s\n' "$*" >&2
  exit 1
}

# --- 1. preflight: scripts/lib/up-preflight.sh -------------------------------------------------------
# shellcheck source=lib/up-preflight.sh
source "$repo_root/scripts/lib/up-preflight.sh"
[ "${1:-}" = --preflight ] && exit 0

# --- 2. cluster ----------------------------------------------------------------------------------------
if [ "$existing" = true ]; then
  say "existing cluster of context $CONTEXT (no kind)"
elif [ "$cluster_exists" = true ]; then
  say "kind cluster $CLUSTER exists"
  # Restores the kubeconfig entry (context $CONTEXT) if it was removed; harmless otherwise.
  kind export kubeconfig --name "$CLUSTER" >/dev/null
else
  say "creating kind cluster $CLUSTER"
  kind create cluster --config "$KIND_CONFIG" --wait 180s
fi
kubectl --context "$CONTEXT" wait --for=condition=Ready nodes --all --timeout=180s >/dev/null

# --- 3. images -----------------------------------------------------------------------------------------
# Tag = <package.json version>-<first 12 hex digits of the image ID>: content-addressed, so an unchanged
# tree gives the same tag (nothing to roll out) and any change gives a new one (the pods roll).
# The tag is also the services' service.version (chart/: OTEL_RESOURCE_ATTRIBUTES).
for svc in "${SERVICES[@]}"; do
  [ "$build_images" = true ] || break
  say "building image $svc"
  docker build --file services/Dockerfile --build-arg "SERVICE=$svc" --build-arg "NODE_IMAGE=$NODE_IMAGE" \
    --tag "$svc:build" .
  id=$(docker image inspect --format '{{.Id}}' "$svc:build")
  id=${id#sha256:}
  version=$(sed -nE 's/^ *"version": *"([^"]+)".*/\1/p' "services/$svc/package.json" | head -n1)
  tag="${version:-0.0.0}-${id:0:12}"
  docker tag "$svc:build" "$svc:$tag"
  # Into the node's containerd. Not `kind load docker-image`: it fails under Docker's containerd image
  # store (the default of Docker Desktop and Docker Engine 29: "content digest ... not found", kind
  # issue 3795). `docker save` writes the same archive with either store, and `kind load image-archive`
  # imports it. Skipped when the node already has this tag (the tag is content-addressed). An existing
  # cluster gets no image: Docker Desktop's Kubernetes sees the local images, minikube after
  # `eval $(minikube docker-env)`, other clusters from wherever their nodes pull.
  if [ "$existing" = false ] && ! docker exec "$CLUSTER-control-plane" crictl inspecti "docker.io/library/$svc:$tag" >/dev/null 2>&1; then
    archive_dir=$(mktemp -d)
    docker save --output "$archive_dir/$svc.tar" "$svc:$tag"
    kind load image-archive "$archive_dir/$svc.tar" --name "$CLUSTER"
    rm -rf "$archive_dir"
  fi
  var="NOS_$(printf '%s' "$svc" | tr '[:lower:]-' '[:upper:]_')_TAG"
  export "$var=$tag"
  printf '%s=%s\n' "$var" "$tag"
done

# --- 4. releases ---------------------------------------------------------------------------------------
say "namespaces (Pod Security levels) and helmfile apply"
kubectl --context "$CONTEXT" apply -f namespaces.yaml

# --skip-diff-on-install: a release that does not exist yet is installed without a diff first (its
# diff would be the whole chart); existing releases are diffed and upgraded only if something changed.
# --kube-context: kind's context is also helmfile.yaml's default; another one overrides it.
if [ -n "$diff_found" ]; then
  helmfile --file helmfile.yaml apply --kube-context "$CONTEXT" ${selectors[@]+"${selectors[@]}"} \
    --skip-diff-on-install --suppress-secrets
else
  helmfile --file helmfile.yaml sync --kube-context "$CONTEXT" ${selectors[@]+"${selectors[@]}"}
fi

say "waiting for the workloads"
# helmfile already waited for each release; this also covers releases it found unchanged.
for ns in observability apps; do
  deployments=$(kubectl --context "$CONTEXT" -n "$ns" get deployment -o name)
  if [ -n "$deployments" ]; then
    # shellcheck disable=SC2086 # one name per word
    kubectl --context "$CONTEXT" -n "$ns" wait --for=condition=Available $deployments --timeout=300s >/dev/null
  fi
  for sts in $(kubectl --context "$CONTEXT" -n "$ns" get statefulset -o name); do
    kubectl --context "$CONTEXT" -n "$ns" rollout status "$sts" --timeout=300s >/dev/null
  done
done
# The collector agents (one per node) that the services send to.
for ds in $(kubectl --context "$CONTEXT" -n otel-agent get daemonset -o name); do
  kubectl --context "$CONTEXT" -n otel-agent rollout status "$ds" --timeout=300s >/dev/null
done

# --- 5. where to look ----------------------------------------------------------------------------------
if [ "$existing" = true ]; then
  # No kind port mapping: the NodePorts are on the cluster's nodes (Docker Desktop also forwards them to
  # localhost); port-forward works everywhere.
  cat <<EOF

node-observability-stack is installed in the cluster of kubectl context $CONTEXT.

  api-gateway  kubectl --context $CONTEXT -n apps port-forward service/api-gateway 8080:8080
               then http://localhost:8080/user/123
  Grafana      kubectl --context $CONTEXT -n observability port-forward service/kube-prometheus-stack-grafana 3000:80
               user admin, password:
                 kubectl --context $CONTEXT -n observability get secret grafana-admin \\
                   -o jsonpath='{.data.admin-password}' | base64 -d; echo
  Prometheus   kubectl --context $CONTEXT -n observability port-forward service/kube-prometheus-stack-prometheus 9090:9090

Remove the releases: NOS_KUBE_CONTEXT=$CONTEXT npm run down
EOF
  exit 0
fi

for _ in $(seq 1 30); do
  curl -fsS -o /dev/null http://localhost:8080/readyz 2>/dev/null && break
  sleep 2
done
curl -fsS -o /dev/null http://localhost:8080/readyz ||
  fail "api-gateway does not answer on http://localhost:8080/readyz (is port 8080 taken on this machine?)"

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
