#!/usr/bin/env bash
# A real Kubernetes control plane as ordinary processes on 127.0.0.1, for machines that cannot run kind
# (no privileged containers): etcd, kube-apiserver, kube-controller-manager, kube-scheduler, and kwok
# managing one fake Node in place of a kubelet. Nothing privileged, no container, no image: pods are
# admitted, scheduled and reported Running and Ready, but their containers never run.
# The binaries are the pinned builds of scripts/install-tools.sh (etcd, kubernetes, kwok).
#
# Usage: scripts/control-plane.sh start|stop|status
#   start   generates a CA, certificates and service-account keys (openssl), starts the five programs,
#           waits until the API server is ready and the Node is Ready and schedulable, and writes a
#           kubeconfig (context nos-control-plane; path printed, and in $dir/kubeconfig)
#   stop    stops them all (SIGTERM, then SIGKILL), removes etcd's data; the logs stay in $dir/logs
#   status  exit 0 when every program runs and the API server is ready
# Environment:
#   NOS_CONTROL_PLANE_DIR    state directory (default ${TMPDIR:-/tmp}/nos-control-plane): certificates,
#                            etcd data, logs, pid files, kubeconfig
#   NOS_CONTROL_PLANE_PORT   first of six consecutive ports on 127.0.0.1 (default 16440): etcd client,
#                            etcd peer, kube-apiserver, kube-controller-manager, kube-scheduler, kwok;
#                            NOS_CONTROL_PLANE_PORTS (six comma-separated ports) names each instead
#   NOS_CACHE_DIR            the tool cache of scripts/install-tools.sh
#
# What stands in for the parts a kubelet would play (docs/verification.md):
#   - the Node object is created here (a kubelet registers its own) and kwok reports it Ready, with a
#     Lease heartbeat; the node-lifecycle controller then lifts the node.kubernetes.io/not-ready taint
#     that the API server's admission put on it, as for a real node;
#   - kwok marks every pod bound to the Node Running and Ready (no container, no probe) and removes
#     deleted pods;
#   - no PersistentVolume provisioner: a claim stays Pending unless a PersistentVolume is created for it.
set -euo pipefail

dir="${NOS_CONTROL_PLANE_DIR:-${TMPDIR:-/tmp}/nos-control-plane}"
bin="${NOS_CACHE_DIR:-$HOME/.cache/node-observability-stack}/bin"
context=nos-control-plane
# The node's name is the kind cluster's (kind-config.yaml): what the releases see is what kind shows.
node_name=node-observability-stack-control-plane
programs=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

log() { printf 'control-plane: %s\n' "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

if [[ -n "${NOS_CONTROL_PLANE_PORTS:-}" ]]; then
  IFS=, read -r -a ports <<<"$NOS_CONTROL_PLANE_PORTS"
  [[ ${#ports[@]} -eq 6 ]] || die "NOS_CONTROL_PLANE_PORTS needs six ports, got '$NOS_CONTROL_PLANE_PORTS'"
else
  base=${NOS_CONTROL_PLANE_PORT:-16440}
  ports=("$base" $((base + 1)) $((base + 2)) $((base + 3)) $((base + 4)) $((base + 5)))
fi
for p in "${ports[@]}"; do
  [[ "$p" =~ ^[0-9]+$ ]] && ((p > 0 && p < 65536)) || die "not a port: '$p'"
done
etcd_port=${ports[0]} peer_port=${ports[1]} api_port=${ports[2]}
kcm_port=${ports[3]} scheduler_port=${ports[4]} kwok_port=${ports[5]}
server="https://127.0.0.1:$api_port"

kubectl() { "$bin/kubectl" --kubeconfig "$dir/kubeconfig" "$@"; }

here="$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=lib/control-plane-processes.sh
source "$here/lib/control-plane-processes.sh"
# shellcheck source=lib/control-plane-pki.sh
source "$here/lib/control-plane-pki.sh"
# shellcheck source=lib/control-plane-node.sh
source "$here/lib/control-plane-node.sh"

start() {
  local p missing=()
  for p in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok; do
    [[ -x "$bin/$p" ]] || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] || die "not built: ${missing[*]} in $bin (run: bash scripts/install-tools.sh etcd kubernetes kwok)"
  command -v openssl >/dev/null 2>&1 || die "openssl is needed for the certificates (apt-get install openssl)"
  local stages
  stages="$(dirname "$(readlink -f "$bin/kwok")")/../share/stages.yaml"
  [[ -f "$stages" ]] || die "kwok's stages ($stages) are missing: run bash scripts/install-tools.sh kwok"
  for p in "${programs[@]}"; do
    ! running "$p" || die "$p already runs (pid $(pid_of "$p")): run '$0 stop' first"
  done
  for p in "${ports[@]}"; do
    ! port_in_use "$p" || die "port $p on 127.0.0.1 is in use (set NOS_CONTROL_PLANE_PORT)"
  done

  rm -rf "$dir/pki" "$dir/etcd" "$dir/run"
  mkdir -p "$dir/logs" "$dir/run"
  # A start that fails half-way leaves nothing running.
  trap 'rc=$?; if [[ $rc -ne 0 ]]; then stop; fi; exit $rc' EXIT
  certificates
  kubeconfig admin "$dir/kubeconfig"
  kubeconfig controller-manager "$dir/run/controller-manager.kubeconfig"
  kubeconfig scheduler "$dir/run/scheduler.kubeconfig"
  kubeconfig kwok "$dir/run/kwok.kubeconfig"
  local pki="$dir/pki"

  log "etcd on 127.0.0.1:$etcd_port"
  # --unsafe-no-fsync: the data lives as long as this process, no need to survive a power cut.
  launch etcd "$bin/etcd" --name nos --data-dir "$dir/etcd" --unsafe-no-fsync \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "nos=http://127.0.0.1:$peer_port" --log-level warn

  log "kube-apiserver on $server"
  # The default admission plugins, PodSecurity among them (levels from the namespaces' labels), and
  # RBAC. No Node authorizer: there is no kubelet identity. No endpoint reconciler: the `kubernetes`
  # Service's endpoint would be 127.0.0.1, which EndpointSlice validation refuses.
  launch kube-apiserver "$bin/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" --authorization-mode RBAC \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --service-cluster-ip-range 10.96.0.0/16 --service-node-port-range 30000-32767 \
    --endpoint-reconciler-type none --allow-privileged=true --profiling=false
  wait_for "the API server to be ready" kube-apiserver kubectl get --raw /readyz

  log "kube-controller-manager on 127.0.0.1:$kcm_port, kube-scheduler on 127.0.0.1:$scheduler_port"
  # Every controller under its own service account (as kubeadm and kind run it); the root CA for the
  # kube-root-ca.crt ConfigMaps; no cloud, no leader election (one instance).
  launch kube-controller-manager "$bin/kube-controller-manager" \
    --kubeconfig "$dir/run/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$dir/run/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$dir/run/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$kcm_port" --leader-elect=false \
    --use-service-account-credentials --service-account-private-key-file "$pki/sa.key" \
    --root-ca-file "$pki/ca.crt" --cluster-signing-cert-file "$pki/ca.crt" \
    --cluster-signing-key-file "$pki/ca.key" --profiling=false
  launch kube-scheduler "$bin/kube-scheduler" \
    --kubeconfig "$dir/run/scheduler.kubeconfig" \
    --authentication-kubeconfig "$dir/run/scheduler.kubeconfig" \
    --authorization-kubeconfig "$dir/run/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$scheduler_port" --leader-elect=false --profiling=false

  log "kwok on 127.0.0.1:$kwok_port, managing node $node_name"
  # --config: kwok reads ~/.kwok/kwok.yaml too unless a configuration is named. The Node's heartbeat
  # is its Lease, renewed as a kubelet renews it (40 s lease, renewed every quarter of it): the status
  # stage only refreshes every ten minutes, and without a Lease the node-lifecycle controller would
  # find the Node silent after its 50 s grace period and mark it and every pod on it not Ready.
  launch kwok "$bin/kwok" --kubeconfig "$dir/run/kwok.kubeconfig" --config "$stages" \
    --manage-single-node "$node_name" --node-ip 127.0.0.1 --cidr 10.244.0.0/16 \
    --node-lease-duration-seconds 40 --server-address "127.0.0.1:$kwok_port"

  register_node
  wait_for "node $node_name to be Ready" kwok kubectl wait --for=condition=Ready "node/$node_name" --timeout=1s
  wait_for "the not-ready taint to be lifted" kube-controller-manager node_schedulable
  wait_for "the Node's Lease" kwok kubectl -n kube-node-lease get lease "$node_name"
  wait_for "the default service account" kube-controller-manager kubectl -n default get serviceaccount default
  for p in "${programs[@]}"; do running "$p" || die "$p exited (log: $dir/logs/$p.log)"; done
  trap - EXIT
  log "ready: KUBECONFIG=$dir/kubeconfig (context $context)"
  printf '%s\n' "$dir/kubeconfig"
}

stop() {
  stopped=()
  # The clients first, then the API server, then etcd.
  stop_group kwok kube-scheduler kube-controller-manager
  stop_group kube-apiserver
  stop_group etcd
  rm -rf "$dir/etcd"
  log "stopped: ${stopped[*]:-nothing was running}"
}

status() {
  local p rc=0
  for p in "${programs[@]}"; do
    if running "$p"; then
      printf '%-24s running (pid %s)\n' "$p" "$(pid_of "$p")"
    else
      printf '%-24s not running\n' "$p"
      rc=1
    fi
  done
  if [[ $rc -eq 0 ]] && kubectl get --raw /readyz >/dev/null 2>&1; then
    printf 'API server %s ready; KUBECONFIG=%s\n' "$server" "$dir/kubeconfig"
  else
    rc=1
  fi
  return "$rc"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *)
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
