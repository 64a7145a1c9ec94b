# Step 1 of scripts/up.sh, sourced by it (its variables: existing, build_images, CONTEXT, CLUSTER,
# KIND_CONFIG, cache_bin and the pins of versions.env): every tool present at the pinned version, the
# Docker engine usable, the kind host ports free. Every problem found is reported in one run, with what
# to do about it; it sets kind_found, kubectl_found, helm_found, helmfile_found, diff_found and
# cluster_exists for the steps after it.
# shellcheck shell=bash disable=SC2154 # the variables above are up.sh's

# version_ge A B: true when version A >= version B (dotted numbers; a leading "v" and any suffix ignored).
version_ge() {
  local a b
  a=$(printf '%s' "$1" | sed -E 's/^v//; s/[^0-9.].*$//')
  b=$(printf '%s' "$2" | sed -E 's/^v//; s/[^0-9.].*$//')
  [ "$(printf '%s\n%s\n' "$b" "$a" | sort -t. -k1,1n -k2,2n -k3,3n | head -n1)" = "$b" ]
}

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
