// Services and EndpointSlices of the installed releases, kind's NodePort, a second `npm run up` that
// changes nothing, `npm run down`, and the control plane stopping with nothing left running.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { alive, context, exec } from '../../support/control-plane.ts';
import { kindPortMappings, releaseValue, release, readHelmfile } from '../../support/kind-stack.ts';
import { repoRoot } from '../../support/versions.ts';
import {
  cluster,
  namespace,
  podSecurityLevels,
  rendered,
  rolledOut,
  script,
  type EndpointSlice,
  type List,
  type Service,
} from './cluster.ts';

export function lifecycleTests(): void {
  it('lists every pod in its Service EndpointSlice; the NodePort is the one kind maps', async (t) => {
    const cp = cluster(t);
    if (!cp) return;
    const deployments = await rolledOut(cp);
    for (const [deployment, pods] of deployments) {
      const name = deployment.metadata.name;
      const service = await cp.getJson<Service>(['service', name, '-n', namespace]);
      assert.match(service.spec.clusterIP, /^10\.96\./);
      const slices: List<EndpointSlice> = await cp.until(
        `EndpointSlices of ${name} list every ready pod`,
        async () => {
          const found = await cp.getJson<List<EndpointSlice>>([
            'endpointslices',
            '-n',
            namespace,
            '-l',
            `kubernetes.io/service-name=${name}`,
          ]);
          const ips = found.items.flatMap((s) =>
            (s.endpoints ?? []).filter((e) => e.conditions?.ready).flatMap((e) => e.addresses),
          );
          return ips.sort().join() ===
            pods
              .map((p) => p.status.podIP)
              .sort()
              .join()
            ? found
            : undefined;
        },
      );
      const containerPort = releaseValue(release(readHelmfile(), name), 'containerPort');
      for (const slice of slices.items as EndpointSlice[])
        assert.deepEqual(
          slice.ports?.map((p) => p.port),
          [containerPort],
        );
    }
    // api-gateway's NodePort is the containerPort of a kind port mapping (kind-config.yaml).
    const gateway = await cp.getJson<Service>(['service', 'api-gateway', '-n', namespace]);
    assert.equal(gateway.spec.type, 'NodePort');
    const nodePort = gateway.spec.ports[0]?.nodePort;
    assert.ok(
      kindPortMappings().some((m) => m.containerPort === nodePort),
      `NodePort ${nodePort} mapped`,
    );
    const user = await cp.getJson<Service>(['service', 'user-service', '-n', namespace]);
    assert.equal(user.spec.type, 'ClusterIP');
  });

  it('changes nothing on a second npm run up', async (t) => {
    const cp = cluster(t);
    if (!cp) return;
    const snapshot = async () => {
      const objects = await cp.getJson<List>([
        'deployments,replicasets,services,serviceaccounts,pods',
        '-n',
        namespace,
      ]);
      return objects.items
        .map(
          (o) =>
            `${o.kind}/${o.metadata.name} uid=${o.metadata.uid} generation=${o.metadata.generation ?? '-'}`,
        )
        .sort();
    };
    const before = await snapshot();
    const up = await script(cp, 'up');
    assert.equal(up.code, 0, up.stdout + up.stderr);
    assert.deepEqual(await snapshot(), before, 'same objects, same generations, same pods');
    // What helm would apply now is what is there: a server-side diff as helm's field manager.
    const { text } = await rendered(cp);
    const diff = await cp.kubectl(
      [
        'diff',
        '--server-side',
        '--field-manager=helm',
        '--force-conflicts',
        '-n',
        namespace,
        '-f',
        '-',
      ],
      text,
    );
    assert.equal(diff.code, 0, `no difference: ${diff.stdout}${diff.stderr}`);
  });

  it('npm run down with NOS_KUBE_CONTEXT removes the releases; the namespaces stay', async (t) => {
    const cp = cluster(t);
    if (!cp) return;
    const down = await script(cp, 'down');
    assert.equal(down.code, 0, down.stdout + down.stderr);
    const list = JSON.parse(
      (await exec('helm', ['--kube-context', context, 'list', '-A', '-o', 'json'], { env: cp.env }))
        .stdout,
    ) as unknown[];
    assert.deepEqual(list, []);
    await cp.until('no object of the releases left in apps (pods deleted)', async () => {
      const left = await cp.getJson<List>([
        'deployments,replicasets,services,pods,secrets,configmaps',
        '-n',
        namespace,
      ]);
      const names = left.items.map((o) => `${o.kind}/${o.metadata.name}`);
      // kube-root-ca.crt: the controller-manager's ConfigMap in every namespace, not a release's.
      return names.every((n) => n === 'ConfigMap/kube-root-ca.crt') ? names : undefined;
    });
    const accounts = await cp.getJson<List>(['serviceaccounts', '-n', namespace]);
    assert.deepEqual(
      accounts.items.map((a) => a.metadata.name),
      ['default'],
    );
    for (const ns of podSecurityLevels().keys()) await cp.kubectlOk(['get', 'namespace', ns]);
  });

  it('stops with nothing left running', async (t) => {
    const cp = cluster(t);
    if (!cp) return;
    const pids = cp.pids();
    assert.deepEqual([...pids.keys()].sort(), [
      'etcd',
      'kube-apiserver',
      'kube-controller-manager',
      'kube-scheduler',
      'kwok',
    ]);
    const stopped = await cp.stop();
    assert.equal(stopped.code, 0, stopped.stderr);
    for (const [name, pid] of pids) assert.equal(alive(pid), false, `${name} (${pid}) stopped`);
    const status = await exec('bash', [join(repoRoot, 'scripts', 'control-plane.sh'), 'status'], {
      env: cp.env,
    });
    assert.notEqual(status.code, 0);
  });
}
