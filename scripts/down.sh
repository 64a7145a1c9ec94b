#!/usr/bin/env bash
# `npm run down`: removes the releases of helmfile.yaml, then the kind cluster `node-observability-stack`.
# Idempotent: without a cluster there is nothing to do. The locally built images (api-gateway:*,
# user-service:*) stay in Docker; remove them with `docker image rm` if you want the space back.
# NOS_KUBE_CONTEXT=NAME (an existing cluster, as for `npm run up`): only the releases are removed, with
# `helmfile destroy` (NOS_RELEASES=a,b: only these; NOS_HELMFILE_SKIP_DEPS=1: no chart repository); the
# cluster, the namespaces of namespaces.yaml and what Helm leaves by design (the CRDs, the Secret
# grafana-admin) stay. docs/kind.md, "An existing cluster", lists them and how to remove them.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

CLUSTER=node-observability-stack
cache_bin="${NOS_CACHE_DIR:-$HOME/.cache/node-observability-stack}/bin"
export PATH="$cache_bin:$PATH"

if [ -n "${NOS_KUBE_CONTEXT:-}" ]; then
  command -v helmfile >/dev/null 2>&1 || { echo "down: helmfile is not installed (bash scripts/install-tools.sh helmfile)" >&2; exit 1; }
  selectors=()
  for r in $(printf '%s' "${NOS_RELEASES:-}" | tr ',' ' '); do selectors+=(--selector "name=$r"); done
  [ "${NOS_HELMFILE_SKIP_DEPS:-}" != 1 ] || selectors+=(--skip-deps)
  export NOS_API_GATEWAY_TAG="${NOS_API_GATEWAY_TAG:-unused}" NOS_USER_SERVICE_TAG="${NOS_USER_SERVICE_TAG:-unused}"
  # Here a failure is an error: nothing else removes the releases.
  helmfile --file helmfile.yaml destroy --kube-context "$NOS_KUBE_CONTEXT" --skip-charts \
    ${selectors[@]+"${selectors[@]}"}
  echo "down: removed the releases from the cluster of context $NOS_KUBE_CONTEXT (the namespaces, CRDs and claims stay: docs/kind.md)"
  exit 0
fi

command -v kind >/dev/null 2>&1 || { echo "down: kind is not installed, so there is no kind cluster to remove" >&2; exit 0; }

if ! kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  echo "down: no kind cluster named $CLUSTER: nothing to do"
  exit 0
fi

# Uninstall the releases first (reverse `needs:` order), so that anything they own outside the cluster
# lifecycle is released cleanly. Deleting the cluster removes everything anyway, so a failure here
# (helmfile missing, registry unreachable) only warns.
if command -v helmfile >/dev/null 2>&1; then
  # The image tags only matter for installs; helmfile still renders the values files.
  export NOS_API_GATEWAY_TAG="${NOS_API_GATEWAY_TAG:-unused}" NOS_USER_SERVICE_TAG="${NOS_USER_SERVICE_TAG:-unused}"
  helmfile --file helmfile.yaml destroy --skip-charts ||
    echo "down: warning: helmfile destroy failed; deleting the cluster removes the releases anyway" >&2
else
  echo "down: helmfile not found; skipping the release uninstall, the cluster deletion removes them" >&2
fi

kind delete cluster --name "$CLUSTER"
# kind removes its kubeconfig entry (context kind-$CLUSTER) with the cluster.
echo "down: removed kind cluster $CLUSTER"
