// The kind install path on a real Kubernetes control plane (scripts/control-plane.sh: etcd,
// kube-apiserver with RBAC and Pod Security admission, controller-manager, scheduler, and kwok's fake
// Node in place of a kubelet), as ordinary processes on 127.0.0.1. `npm run up` in existing-cluster
// mode (NOS_KUBE_CONTEXT) installs the releases whose charts are in this repository with helmfile;
// then, all on the real API server: every rendered object admitted without a warning, every pod
// created, scheduled and Ready under its namespace's enforced Pod Security level, a privileged-style
// pod refused in a restricted namespace, the security values the chart's schema refuses refused by
// the API server too, RBAC through `kubectl auth can-i --as`, Services and EndpointSlices, the NodePort
// of kind's port mapping, the collector's k8s_attributes with the agent's own RBAC, a second run that
// changes nothing, and `npm run down` removing the releases. The pods' containers never run (no
// images, no kubelet): probes and images stay the compose test's job.
// Needs etcd, the Kubernetes binaries, kwok, helm, helmfile and otelcol (scripts/install-tools.sh):
// a failure under CI=true when one is missing.
//
// The control plane starts once, in this file; the tests are grouped by subject in
// test/kubernetes/control-plane/ and registered here in the order they run.
import { after, before, describe } from 'node:test';
import { startControlPlane, stopControlPlane } from './control-plane/cluster.ts';
import { collectorTests } from './control-plane/collector.ts';
import { installTests } from './control-plane/install.ts';
import { lifecycleTests } from './control-plane/lifecycle.ts';
import { securityTests } from './control-plane/security.ts';

before(startControlPlane);
after(stopControlPlane);

describe('the kind install path on a real control plane (etcd, kube-apiserver, kwok)', () => {
  installTests();
  securityTests();
  collectorTests();
  lifecycleTests();
});
