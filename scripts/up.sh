#!/usr/bin/env bash
# `npm run up`: the whole stack on a local kind cluster, in one command.
#   1. preflight: docker (running, cgroup v2), kind, kubectl, helm, helmfile, the helm-diff plugin, at the
#      versions pinned in versions.env, and the host ports of kind-config.yaml free; every problem
#      found is reported in one run, with what to do about it;
#   2. creates the kind cluster `node-observability-stack` (kind-config.yaml) unless it exists;
#   3. builds the two service images from the repository root and loads them into the cluster;
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

# version_ge A B: true when version A >= version B (dotted numbers; a leading "v" and any suffix ignored).
version_ge() {
  local a b
  a=$(printf '%s' "$1" | sed -E 's/^v//; s/[^0-9.].*$//')
  b=$(printf '%s' "$2" | sed -E 's/^v//; s/[^0-9.].*$//')
  [ "$(printf '%s\n%s\n' "$b" "$a" | sort -t. -k1,1n -k2,2n -k3,3n | head -n1)" = "$b" ]
}

# --- 1. preflight --------------------------------------------------------------------------------------
# Every check adds to `problems`; the run stops after all of them, listing everything at once.
problems=()
problem() { problems+=("$*"); }
check_min() { # check_min NAME FOUND MINIMUM HOW-TO-INSTALL
  [ "${NOS_SKIP_PREFLIGHT:-}" = 1 ] && return 0
  version_ge "$2" "$3" || problem "$1 $2 is too old: $3 or newer is needed. $4"
}

say "preflight"
how_to_install() { # how_to_install TOOL (a function, not an associative array: macOS ships bash 3.2)
  case "$1" in
    docker) echo "Install Docker Desktop (macOS, Windows) or Docker Engine (Linux): https://docs.docker.com/get-docker/" ;;
    kind) echo "Install kind v$KIND_VERSION: 'go install sigs.k8s.io/kind@v$KIND_VERSION' or https://kind.sigs.k8s.io/docs/user/quick-start/#installation" ;;
    kubectl) echo "Install kubectl $KUBERNETES_VERSION (within one minor version of the cluster): https://kubernetes.io/docs/tasks/tools/" ;;
    helm) echo "Run 'bash scripts/install-tools.sh helm' (builds Helm $HELM_VERSION into $cache_bin) or see https://helm.sh/docs/intro/install/" ;;
    helmfile) echo "Install helmfile v$HELMFILE_VERSION: https://helmfile.readthedocs.io/en/latest/#installation (or 'bash scripts/install-tools.sh helmfile')" ;;
  esac
}
needed=(kubectl helm helmfile)
[ "$existing" = true ] || needed=(docker kind "${needed[@]}")
[ "$existing" = false ] || [ "$build_images" = false ] || needed=(docker "${needed[@]}")
for tool in "${needed[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || problem "$tool is not installed. $(how_to_install "$tool")"
done
has() { command -v "$1" >/dev/null 2>&1; }

cluster_exists=false
if [ "$existing" = true ]; then
  # Whatever runs the cluster (kind's Docker checks are for kind's node containers only).
  if has kubectl && ! kubectl --context "$CONTEXT" get --raw /readyz >/dev/null 2>&1; then
    problem "the cluster of kubectl context '$CONTEXT' (NOS_KUBE_CONTEXT) does not answer: 'kubectl --context $CONTEXT get --raw /readyz' fails. Check 'kubectl config get-contexts' and that the cluster runs."
  fi
  if [ "$build_images" = true ] && has docker && ! docker info >/dev/null 2>&1; then
    problem "the Docker daemon is not reachable ('docker info' fails), and the service images are built with it: start Docker, or set NOS_API_GATEWAY_TAG and NOS_USER_SERVICE_TAG to images the cluster has."
  fi
elif has docker; then
  if ! docker info >/dev/null 2>&1; then
    problem "the Docker daemon is not reachable ('docker info' fails): start Docker Desktop / dockerd and retry."
  else
    # kubelet 1.35+ refuses to start on a cgroup v1 host (KEP-5573) unless its configuration sets
    # failCgroupV1: false. This stack does not set it: cgroup v1 support is deprecated and being removed
    # from Kubernetes, and the failure would otherwise be an opaque kubelet error inside `kind create`.
    cgroup_version=$(docker info --format '{{.CgroupVersion}}' 2>/dev/null || true)
    if [ "$cgroup_version" = 1 ]; then
      problem "Docker runs on a cgroup v1 host, and the kubelet of Kubernetes $KUBERNETES_VERSION refuses cgroup v1.
  Boot the host with the unified hierarchy (kernel parameter systemd.unified_cgroup_hierarchy=1; the default
  of current Linux distributions), or update Docker Desktop / WSL 2, whose current releases use cgroup v2."
    fi
    # Docker Desktop's VM has its own CPU / memory budget: the stack requests about 1 CPU and 2 GiB, with
    # limits summing to about 4 CPUs and 5.5 GiB, plus about 1 GiB for Kubernetes itself (README, "Resources").
    docker_mem=$(docker info --format '{{.MemTotal}}' 2>/dev/null || echo 0)
    docker_cpus=$(docker info --format '{{.NCPU}}' 2>/dev/null || echo 0)
    if [ "${docker_mem:-0}" -lt $((6 * 1024 * 1024 * 1024)) ] || [ "${docker_cpus:-0}" -lt 4 ]; then
      printf 'up: warning: Docker has %s CPUs and %s MiB of memory; 4 CPUs and 6 GiB are recommended\n' \
        "$docker_cpus" "$((docker_mem / 1024 / 1024))" >&2
    fi
  fi
fi

kind_found=""
if [ "$existing" = false ] && has kind; then
  kind_found=$(kind version | sed -nE 's/^kind v?([0-9.]+).*/\1/p')
  check_min kind "${kind_found:-0}" "$KIND_VERSION" "Install kind v$KIND_VERSION (see above)."
  kind get clusters 2>/dev/null | grep -qx "$CLUSTER" && cluster_exists=true
fi

kubectl_found=""
if has kubectl; then
  kubectl_found=$(kubectl version --client -o yaml 2>/dev/null | sed -nE 's/^ *gitVersion: v?([0-9.]+).*/\1/p' | head -n1)
  # kubectl is supported within one minor version of the API server, older or newer (version skew policy).
  want_minor=$(printf '%s' "$KUBERNETES_VERSION" | cut -d. -f2)
  found_minor=$(printf '%s' "${kubectl_found:-0.0}" | cut -d. -f2)
  if [ "${NOS_SKIP_PREFLIGHT:-}" != 1 ] &&
    { [ "${kubectl_found%%.*}" != "${KUBERNETES_VERSION%%.*}" ] || [ "$found_minor" -lt $((want_minor - 1)) ] || [ "$found_minor" -gt $((want_minor + 1)) ]; }; then
    problem "kubectl ${kubectl_found:-(unknown version)} is outside the supported skew: Kubernetes $KUBERNETES_VERSION needs kubectl 1.$((want_minor - 1)) to 1.$((want_minor + 1)). $(how_to_install kubectl)"
  fi
fi

helm_found=""
diff_found=""
if has helm; then
  helm_found=$(helm version --template '{{.Version}}' 2>/dev/null || true)
  # helmfile needs Helm >= 3.18.6 (3.x) or 4.x.
  check_min helm "${helm_found:-0}" "3.18.6" "Install Helm $HELM_VERSION: 'bash scripts/install-tools.sh helm'."
  diff_found=$(helm plugin list 2>/dev/null | awk '$1 == "diff" { print $2 }')
  if [ -z "$diff_found" ] && [ "$existing" = true ]; then
    # Another cluster may be set up without it: helmfile sync upgrades every release instead of only
    # the changed ones (an unchanged release gets a new revision; its pods do not roll).
    printf 'up: warning: the helm-diff plugin is missing: helmfile sync instead of apply\n' >&2
  elif [ -z "$diff_found" ]; then
    case "$helm_found" in
      v3.*) verify_flag="" ;;
      *) verify_flag=" --verify=false" ;; # Helm 4 verifies plugin signatures; a Git source has none.
    esac
    problem "the helm-diff plugin is missing (helmfile apply uses it to change only what differs). Install it:
  helm plugin install https://github.com/databus23/helm-diff --version v$HELM_DIFF_VERSION$verify_flag"
  else
    check_min helm-diff "$diff_found" "$HELM_DIFF_VERSION" "helm plugin update diff"
  fi
fi

helmfile_found=""
if has helmfile; then
  export HELMFILE_UPGRADE_NOTICE_DISABLED=1 # no release check against github.com on every run
  helmfile_found=$(helmfile version -o short 2>/dev/null | head -n1 || true)
  check_min helmfile "${helmfile_found:-0}" "$HELMFILE_VERSION" "Install helmfile v$HELMFILE_VERSION (see above)."
fi

# The host ports of the kind port mappings must be free before the cluster exists (afterwards kind
# holds them itself).
if [ "$existing" = false ] && [ "$cluster_exists" = false ]; then
  for port in $(sed -nE 's/^ *hostPort: *([0-9]+).*/\1/p' "$KIND_CONFIG"); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      problem "port $port on 127.0.0.1 is in use: kind maps it to the cluster ($KIND_CONFIG). Stop what listens there (e.g. 'docker compose down' for this repository's compose stack) and retry."
    fi
  done
fi

# kind's documented Linux limits: too few inotify watches/instances make pods fail with "too many open
# files" (https://kind.sigs.k8s.io/docs/user/known-issues/#pod-errors-due-to-too-many-open-files).
if [ "$existing" = false ] && [ -r /proc/sys/fs/inotify/max_user_watches ]; then
  watches=$(cat /proc/sys/fs/inotify/max_user_watches)
  instances=$(cat /proc/sys/fs/inotify/max_user_instances)
  if [ "$watches" -lt 524288 ] || [ "$instances" -lt 512 ]; then
    printf 'up: warning: inotify limits are low (max_user_watches %s, max_user_instances %s); kind recommends\n  sudo sysctl fs.inotify.max_user_watches=524288 fs.inotify.max_user_instances=512\n' \
      "$watches" "$instances" >&2
  fi
fi

if [ "${#problems[@]}" -gt 0 ]; then
  printf 'up: %d problem(s) found:\n' "${#problems[@]}" >&2
  for p in "${problems[@]}"; do printf -- '- %s\n' "$p" >&2; done
  exit 1
fi
if [ "$existing" = true ]; then
  printf 'context %s ok, kubectl %s, helm %s, helmfile %s, helm-diff %s\n' \
    "$CONTEXT" "$kubectl_found" "$helm_found" "$helmfile_found" "${diff_found:-none}"
else
  printf 'docker ok, kind %s, kubectl %s, helm %s, helmfile %s, helm-diff %s\n' \
    "$kind_found" "$kubectl_found" "$helm_found" "$helmfile_found" "$diff_found"
fi
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
  docker build --file "services/$svc/Dockerfile" --tag "$svc:build" .
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
