// `npm run up` in existing-cluster mode on the real API server: its version and Node, the releases
// installed by helmfile, every rendered object admitted without a warning, every pod created,
// scheduled and Ready under its namespace's enforced Pod Security level.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { context, exec, nodeName } from '../../support/control-plane.ts';
import { pinnedVersion } from '../../support/versions.ts';
import {
  cluster,
  namespace,
  podSecurityLevels,
  releases,
  rendered,
  rolledOut,
  script,
  warnings,
  type K8sObject,
  type List,
} from './cluster.ts';

export function installTests(): void {
  it('is a real API server at the Kubernetes minor of the kind node image, its Node Ready', async (t) => {
    const cp = cluster(t);
    if (!cp) return;
    const version = JSON.parse(await cp.kubectlOk(['version', '-o', 'json'])) as {
      serverVersion: { gitVersion: string; minor: string };
    };
    assert.equal(
      version.serverVersion.gitVersion,
      `v${pinnedVersion('KUBERNETES_BINARIES_VERSION')}`,
    );
    assert.equal(version.serverVersion.minor, pinnedVersion('KUBERNETES_VERSION').split('.')[1]);
    const node = await cp.getJson<K8sObject & { spec: { taints?: { key: string }[] } }>([
      'node',
      nodeName,
    ]);
    assert.ok(
      !(node.spec.taints ?? []).some((taint) => taint.key.startsWith('node.kubernetes.io/')),
    );
    // Its heartbeat is a Lease renewed as a kubelet renews it: without one, the node-lifecycle
    // controller would mark the Node and its pods not Ready once its grace period passes.
    type Lease = { spec: { renewTime: string } };
    const lease = `lease/${nodeName}`;
    const first = (await cp.getJson<Lease>([lease, '-n', 'kube-node-lease'])).spec.renewTime;
    await cp.until('the Node Lease renewed', async () => {
      const renewed = (await cp.getJson<Lease>([lease, '-n', 'kube-node-lease'])).spec.renewTime;
      return renewed !== first ? renewed : undefined;
    });
  });

  it('npm run up with NOS_KUBE_CONTEXT installs the releases with helmfile (wait on), no kind', async (t) => {
    const cp = cluster(t);
    if (!cp) return;
    const up = await script(cp, 'up');
    const output = up.stdout + up.stderr;
    assert.equal(up.code, 0, output);
    assert.match(up.stdout, /existing cluster of context nos-control-plane \(no kind\)/);
    assert.deepEqual(warnings(output), [], 'no warning from the API server');
    const list = JSON.parse(
      (await exec('helm', ['--kube-context', context, 'list', '-A', '-o', 'json'], { env: cp.env }))
        .stdout,
    ) as { name: string; namespace: string; status: string }[];
    assert.deepEqual(
      list.map((r) => `${r.namespace}/${r.name} ${r.status}`).sort(),
      releases.map((r) => `${namespace}/${r} deployed`).sort(),
    );
    // namespaces.yaml is applied first, with its labels, in every namespace it declares.
    for (const [ns, level] of podSecurityLevels()) {
      const live: K8sObject = await cp.getJson<K8sObject>(['namespace', ns]);
      assert.equal(live.metadata.labels?.['pod-security.kubernetes.io/enforce'], level, ns);
    }
  });

  it('admitted every rendered object as it is, without a warning', async (t) => {
    const cp = cluster(t);
    if (!cp) return;
    const { text, objects } = await rendered(cp);
    assert.ok(objects.length >= 6, `rendered ${objects.length} objects`);
    for (const o of objects) {
      const live: K8sObject = await cp.getJson<K8sObject>([
        o.kind,
        o.metadata.name,
        '-n',
        namespace,
      ]);
      assert.equal(live.metadata.name, o.metadata.name, `${o.kind}/${o.metadata.name} exists`);
    }
    // Server-side, with the API server's strict field validation: an unknown field is an error, a
    // Pod Security violation a warning. Neither appears.
    const dryRun = await cp.kubectl(
      [
        'apply',
        '--dry-run=server',
        '--server-side',
        '--field-manager=helm',
        '--force-conflicts',
        '--validate=strict',
        '-n',
        namespace,
        '-f',
        '-',
      ],
      text,
    );
    assert.equal(dryRun.code, 0, dryRun.stderr);
    assert.deepEqual(warnings(dryRun.stderr), []);
  });

  it('created every pod, scheduled to the Node and Ready, each under its namespace enforced level', async (t) => {
    const cp = cluster(t);
    if (!cp) return;
    const deployments = await rolledOut(cp);
    for (const [deployment, pods] of deployments) {
      for (const pod of pods) {
        assert.equal(pod.spec.nodeName, nodeName, pod.metadata.name);
        assert.ok(pod.status.podIP, `${pod.metadata.name} has an IP`);
        assert.equal(pod.metadata.ownerReferences?.[0]?.kind, 'ReplicaSet');
      }
      // No pod the ReplicaSet controller was refused (FailedCreate) on the way.
      const events: List<K8sObject & { message: string }> = await cp.getJson([
        'events',
        '-n',
        namespace,
        '--field-selector',
        'reason=FailedCreate',
      ]);
      assert.deepEqual(
        events.items.map((e) => e.message),
        [],
        `${deployment.metadata.name}: no refused pod`,
      );
    }
    // The Pod Security admission evaluates the running pods against a namespace's level when the
    // label is set: re-setting every namespace's level (a server-side dry run) warns of no pod.
    for (const [ns, level] of podSecurityLevels()) {
      const relabel = await cp.kubectl([
        'label',
        '--dry-run=server',
        '--overwrite',
        'namespace',
        ns,
        `pod-security.kubernetes.io/enforce=${level}`,
      ]);
      assert.equal(relabel.code, 0, relabel.stderr);
      assert.deepEqual(warnings(relabel.stderr), [], `${ns} (${level})`);
    }
  });
}
