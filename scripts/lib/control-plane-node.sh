#!/usr/bin/env bash
# The one Node of the control plane, registered as a kubelet would register it (kwok then keeps it
# Ready). Sourced by scripts/control-plane.sh (node_name, kubectl).

# Kind's node name, labels and allocatable of a laptop-sized node.
register_node() {
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
}

node_schedulable() {
  local taints
  taints=$(kubectl get node "$node_name" -o jsonpath='{.spec.taints[*].key}')
  [[ "$taints" != *node.kubernetes.io/not-ready* ]]
}
