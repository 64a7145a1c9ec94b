#!/usr/bin/env bash
# Recipes of the local Kubernetes control plane's tools and the Pod Security evaluator.
# Sourced by scripts/install-tools.sh, whose variables (repo_root, build_root, bin_dir, the pins of
# versions.env) and log/die it uses.
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

