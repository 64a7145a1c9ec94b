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

pid_of() { [[ -f "$dir/run/$1.pid" ]] && cat "$dir/run/$1.pid"; }
running() {
  local pid
  pid=$(pid_of "$1") || return 1
  kill -0 "$pid" 2>/dev/null
}

# Polls COMMAND until it succeeds; gives up with the last lines of the named program's log when that
# program has exited (a wrong flag, a port in use), or after a very long while (a hung start).
wait_for() { # wait_for WHAT PROGRAM COMMAND...
  local what=$1 program=$2
  shift 2
  local i
  for ((i = 0; i < 1200; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    if ! running "$program"; then
      tail -n 30 "$dir/logs/$program.log" >&2 || true
      die "$program exited while waiting for $what (log: $dir/logs/$program.log)"
    fi
    sleep 0.5
  done
  die "gave up waiting for $what (logs: $dir/logs)"
}

# --- certificates ------------------------------------------------------------------------------------
# A CA of its own, the API server's serving certificate, and one client certificate per identity. The
# subjects are the ones the API server's bootstrap RBAC roles are bound to.
certificates() {
  local pki="$dir/pki"
  mkdir -p "$pki"
  (
    cd "$pki"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 \
      -subj "/CN=nos-control-plane-ca" 2>/dev/null
    # Service-account tokens: signed by the API server, verified with the public key.
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    sign() { # sign NAME SUBJECT EXTENSIONS
      openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
      printf '%s\n' "$3" >"$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" -days 2 \
        -extfile "$1.ext" 2>/dev/null
      rm -f "$1.csr" "$1.ext"
    }
    # The Service IP of `kubernetes` (first address of --service-cluster-ip-range) and its DNS names.
    sign apiserver "/CN=kube-apiserver" "keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    local client="keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
    sign admin "/O=system:masters/CN=nos-admin" "$client"
    sign controller-manager "/CN=system:kube-controller-manager" "$client"
    sign scheduler "/CN=system:kube-scheduler" "$client"
    # kwok updates the Node's and the pods' status, as the node's kubelet would (system:nodes rights are
    # checked by the Node authorizer only for a kubelet's own node, so it gets the admin's group).
    sign kwok "/O=system:masters/CN=nos-kwok" "$client"
    # apiserver -> (nothing): no kubelet to reach, no aggregated API.
  )
}

kubeconfig() { # kubeconfig IDENTITY FILE
  cat >"$2" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: $context
    cluster:
      server: $server
      certificate-authority: $dir/pki/ca.crt
users:
  - name: $1
    user:
      client-certificate: $dir/pki/$1.crt
      client-key: $dir/pki/$1.key
contexts:
  - name: $context
    context:
      cluster: $context
      user: $1
current-context: $context
EOF
}

launch() { # launch NAME COMMAND...: in its own session, its pid in run/NAME.pid
  local name=$1
  shift
  setsid "$@" >"$dir/logs/$name.log" 2>&1 </dev/null &
  printf '%s\n' "$!" >"$dir/run/$name.pid"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

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

  # The Node a kubelet would register: kind's node name, labels and allocatable of a laptop-sized node.
  kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $node_name
  labels:
    kubernetes.io/hostname: $node_name
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    node-role.kubernetes.io/control-plane: ''
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: '0'
status:
  allocatable: { cpu: '4', memory: 8Gi, pods: '110', ephemeral-storage: 50Gi }
  capacity: { cpu: '4', memory: 8Gi, pods: '110', ephemeral-storage: 50Gi }
EOF
  wait_for "node $node_name to be Ready" kwok kubectl wait --for=condition=Ready "node/$node_name" --timeout=1s
  wait_for "the not-ready taint to be lifted" kube-controller-manager node_schedulable
  wait_for "the Node's Lease" kwok kubectl -n kube-node-lease get lease "$node_name"
  wait_for "the default service account" kube-controller-manager kubectl -n default get serviceaccount default
  for p in "${programs[@]}"; do running "$p" || die "$p exited (log: $dir/logs/$p.log)"; done
  trap - EXIT
  log "ready: KUBECONFIG=$dir/kubeconfig (context $context)"
  printf '%s\n' "$dir/kubeconfig"
}

node_schedulable() {
  local taints
  taints=$(kubectl get node "$node_name" -o jsonpath='{.spec.taints[*].key}')
  [[ "$taints" != *node.kubernetes.io/not-ready* ]]
}

# stop_group PROGRAM...: SIGTERM to all of them at once, SIGKILL to any still there after 10 s.
stop_group() {
  local p pid pids=() n
  for p in "$@"; do
    if running "$p"; then
      pid=$(pid_of "$p")
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
      stopped+=("$p")
    fi
    rm -f "$dir/run/$p.pid"
  done
  for ((n = 0; n < 40; n++)); do
    any_alive ${pids[@]+"${pids[@]}"} || break
    sleep 0.25
  done
  for pid in ${pids[@]+"${pids[@]}"}; do kill -KILL "$pid" 2>/dev/null || true; done
}

any_alive() { # any_alive PID...
  local pid
  for pid in "$@"; do kill -0 "$pid" 2>/dev/null && return 0; done
  return 1
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
