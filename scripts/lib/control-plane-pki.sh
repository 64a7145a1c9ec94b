#!/usr/bin/env bash
# The control plane's certificates and kubeconfigs. Sourced by scripts/control-plane.sh (dir, server,
# context).
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
