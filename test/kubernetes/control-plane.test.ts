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
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { freePorts } from '../../scripts/lib/processes.ts';
import { startCollector } from '../support/collector-process.ts';
import {
  alive,
  context,
  ControlPlane,
  controlPlaneTools,
  exec,
  nodeName,
  type Result,
} from '../support/control-plane.ts';
import {
  kindPortMappings,
  readYaml,
  releaseValue,
  release,
  readHelmfile,
  type Yaml,
} from '../support/kind-stack.ts';
import { OtlpReceiver } from '../support/otlp-receiver.ts';
import { findTool, inCI, requireTool } from '../support/tools.ts';
import { pinnedVersion, repoRoot } from '../support/versions.ts';

// The releases whose charts are in the repository: the third-party charts cannot be downloaded here.
const releases = ['user-service', 'api-gateway'];
const namespace = 'apps';
const tags = {
  NOS_API_GATEWAY_TAG: '0.1.0-controlplane',
  NOS_USER_SERVICE_TAG: '0.1.0-controlplane',
};

interface Meta {
  name: string;
  namespace?: string;
  uid: string;
  labels?: Record<string, string>;
  generation?: number;
  resourceVersion: string;
  ownerReferences?: { kind: string; name: string }[];
}
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: Meta;
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}
interface List<T = K8sObject> {
  items: T[];
}
interface Pod extends K8sObject {
  spec: {
    nodeName?: string;
    automountServiceAccountToken?: boolean;
    serviceAccountName: string;
    volumes?: { name: string; projected?: unknown }[];
  };
  status: {
    phase?: string;
    podIP?: string;
    startTime?: string;
    conditions?: { type: string; status: string }[];
  };
}
interface Deployment extends K8sObject {
  spec: { replicas: number; selector: { matchLabels: Record<string, string> } };
  status: { readyReplicas?: number; observedGeneration?: number };
}
interface Service extends K8sObject {
  spec: {
    type: string;
    clusterIP: string;
    ports: { port: number; targetPort: number | string; nodePort?: number }[];
  };
}
interface EndpointSlice extends K8sObject {
  endpoints?: {
    addresses: string[];
    conditions?: { ready?: boolean };
    targetRef?: { name: string };
  }[];
  ports?: { port: number }[];
}

let plane: ControlPlane | undefined;
/** Why there is no control plane: a missing tool, or a start that failed (each test reports it). */
let unavailable: string | undefined;

before(async () => {
  const absent = [...controlPlaneTools, 'otelcol', 'openssl'].filter((tool) => !findTool(tool));
  if (absent.length > 0) {
    unavailable = `not installed: ${absent.join(', ')} (run 'bash scripts/install-tools.sh')`;
    return;
  }
  try {
    plane = await ControlPlane.start();
  } catch (error) {
    unavailable = String(error);
  }
});

after(async () => {
  if (plane) {
    await plane.stop();
    plane.remove();
  }
});

/** The running control plane; a failure under CI=true, else a skip, when there is none. */
function cluster(t: TestContext): ControlPlane | undefined {
  if (plane) return plane;
  const why = unavailable ?? 'the control plane did not start';
  if (inCI || !unavailable?.startsWith('not installed')) throw new Error(why);
  t.skip(why);
  return undefined;
}

/** The environment of `npm run up` / `npm run down` against this control plane. */
function installEnv(cp: ControlPlane): NodeJS.ProcessEnv {
  return {
    ...cp.env,
    ...tags,
    NOS_KUBE_CONTEXT: context,
    NOS_RELEASES: releases.join(','),
    NOS_HELMFILE_SKIP_DEPS: '1',
  };
}

function script(cp: ControlPlane, name: 'up' | 'down'): Promise<Result> {
  return exec('bash', [join(repoRoot, 'scripts', `${name}.sh`)], { env: installEnv(cp) });
}

/**
 * The objects helmfile renders for the selected releases, as helm sends them to the API server: with
 * the ownership annotations helm adds to every object of a release.
 */
async function rendered(cp: ControlPlane): Promise<{ text: string; objects: K8sObject[] }> {
  const selectors = releases.flatMap((r) => ['--selector', `name=${r}`]);
  const result = await exec(
    'helmfile',
    ['--file', 'helmfile.yaml', 'template', '--kube-context', context, '--skip-deps', ...selectors],
    { env: installEnv(cp) },
  );
  assert.equal(result.code, 0, result.stderr);
  const objects = parseAllDocuments(result.stdout)
    .map((doc) => doc.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
  for (const o of objects) {
    const meta = o.metadata as Meta & { annotations?: Record<string, string> };
    meta.annotations = {
      ...meta.annotations,
      'meta.helm.sh/release-name': meta.labels?.['app.kubernetes.io/instance'] ?? '',
      'meta.helm.sh/release-namespace': namespace,
    };
  }
  const text = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects });
  return { text, objects };
}

/** Warnings the API server sent back (kubectl prints them as "Warning: ..."). */
const warnings = (stderr: string): string[] =>
  stderr.split('\n').filter((line) => /^Warning:|would violate PodSecurity/i.test(line));

const podSecurityLevels = (): Map<string, string> =>
  new Map(
    parseAllDocuments(readFileSync(join(repoRoot, 'namespaces.yaml'), 'utf8'))
      .map((doc) => doc.toJS() as K8sObject)
      .map((ns) => [
        ns.metadata.name,
        ns.metadata.labels?.['pod-security.kubernetes.io/enforce'] ?? '',
      ]),
  );

const ready = (pod: Pod): boolean =>
  pod.status.phase === 'Running' &&
  (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/** The pods of a Deployment (by its selector). */
async function podsOf(cp: ControlPlane, deployment: Deployment): Promise<Pod[]> {
  const selector = Object.entries(deployment.spec.selector.matchLabels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return (await cp.getJson<List<Pod>>(['pods', '-n', namespace, '-l', selector])).items;
}

/** Every Deployment of the namespace rolled out: each replica's pod Running and Ready. */
async function rolledOut(cp: ControlPlane): Promise<Map<Deployment, Pod[]>> {
  return cp.until('every Deployment of apps rolled out, each pod Ready', async () => {
    const deployments = (await cp.getJson<List<Deployment>>(['deployments', '-n', namespace]))
      .items;
    if (deployments.length !== releases.length) return undefined;
    const result = new Map<Deployment, Pod[]>();
    for (const d of deployments) {
      const pods = await podsOf(cp, d);
      if (pods.length !== d.spec.replicas || !pods.every(ready)) return undefined;
      if (d.status.readyReplicas !== d.spec.replicas) return undefined;
      result.set(d, pods);
    }
    return result;
  });
}

async function canI(cp: ControlPlane, as: string, verb: string, resource: string, ns?: string) {
  const args = [
    'auth',
    'can-i',
    verb,
    resource,
    `--as=${as}`,
    ...(ns ? ['-n', ns] : ['--all-namespaces']),
  ];
  const result = await cp.kubectl(args);
  // 0 yes, 1 no; anything else is an error of the check itself.
  assert.ok(result.code === 0 || result.code === 1, `kubectl ${args.join(' ')}: ${result.stderr}`);
  return result.stdout.trim() === 'yes';
}

describe('the kind install path on a real control plane (etcd, kube-apiserver, kwok)', () => {
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

  it('refuses a pod like the collector agent (hostPath, uid 0) in a restricted namespace', async (t) => {
    const cp = cluster(t);
    if (!cp) return;
    // The agent's own settings (values/otel-agent.yaml): its container security context and its
    // hostPath volumes; what its namespace's "privileged" level exists for.
    const agent = readYaml('values/otel-agent.yaml');
    const volumes = (agent.extraVolumes as Yaml[]).filter((v) => v.hostPath);
    const mounts = (agent.extraVolumeMounts as Yaml[]).filter((m) =>
      volumes.some((v) => v.name === m.name),
    );
    assert.ok(volumes.length >= 2, 'the agent has hostPath volumes');
    const pod = (ns: string) =>
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'agent-like', namespace: ns },
        spec: {
          containers: [
            {
              name: 'agent',
              image: `otel/opentelemetry-collector-contrib:${pinnedVersion('OTELCOL_VERSION')}`,
              securityContext: agent.securityContext,
              volumeMounts: mounts,
            },
          ],
          volumes,
        },
      });
    const refused = await cp.kubectl(['apply', '-f', '-'], pod(namespace));
    assert.notEqual(refused.code, 0, 'refused in apps');
    assert.match(refused.stderr, /violates PodSecurity "restricted:latest"/);
    assert.match(
      refused.stderr,
      /restricted volume types \(volumes .* use restricted volume type "hostPath"\)/,
    );
    assert.match(refused.stderr, /runAsNonRoot != true|runAsUser=0/);
    t.diagnostic(`refused: ${refused.stderr.trim()}`);
    // The same pod where its level is "privileged" (otel-agent): admitted.
    const admitted = await cp.kubectl(['apply', '--dry-run=server', '-f', '-'], pod('otel-agent'));
    assert.equal(admitted.code, 0, admitted.stderr);
    assert.deepEqual(warnings(admitted.stderr), []);
  });

  it('refuses on the API server the security values that the chart schema rejects', async (t) => {
    const cp = cluster(t);
    if (!cp) return;
    const helm = requireTool('helm') as string;
    // Values that helm template accepted before values.schema.json closed both security contexts.
    const bad: [string, string[], RegExp][] = [
      ['typo', ['--set', 'securityContext.readOnlyRootFileSystem=true'], /unknown field/],
      ['typo', ['--set', 'podSecurityContext.runAsGroupp=1000'], /unknown field/],
      [
        'sysctl',
        [
          '--set',
          'podSecurityContext.sysctls[0].name=kernel.msgmax',
          '--set-string',
          'podSecurityContext.sysctls[0].value=1',
        ],
        /forbidden sysctls/,
      ],
      [
        'AppArmor',
        ['--set', 'securityContext.appArmorProfile.type=Unconfined'],
        /forbidden AppArmor profile/,
      ],
      ['SELinux', ['--set', 'securityContext.seLinuxOptions.type=spc_t'], /seLinuxOptions/],
      ['procMount', ['--set', 'securityContext.procMount=Unmasked'], /procMount|Unmasked/],
      [
        'hostProcess',
        ['--set', 'securityContext.windowsOptions.hostProcess=true'],
        /hostProcess|windowsOptions/,
      ],
    ];
    for (const [what, values, refusal] of bad) {
      const value = values.join(' ');
      const args = ['template', 'x', join(repoRoot, 'chart'), '--namespace', namespace, ...values];
      const schema = await exec(helm, args, { env: cp.env });
      assert.notEqual(schema.code, 0, `${what} (${value}): the schema rejects it`);
      const unchecked = await exec(helm, [...args, '--skip-schema-validation'], { env: cp.env });
      assert.equal(unchecked.code, 0, unchecked.stderr);
      const deployment = parseAllDocuments(unchecked.stdout)
        .map((d) => d.toJS() as K8sObject | null)
        .find((o) => o?.kind === 'Deployment') as K8sObject & {
        spec: { template: { metadata: Yaml; spec: Yaml } };
      };
      // The pod its ReplicaSet would create (under an account that exists: the release is not
      // installed), sent as the controller would send it.
      const pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { ...deployment.spec.template.metadata, name: 'schema-check', namespace },
        spec: { ...deployment.spec.template.spec, serviceAccountName: 'default' },
      };
      const result = await cp.kubectl(
        ['create', '--dry-run=server', '--validate=strict', '-f', '-'],
        JSON.stringify(pod),
      );
      assert.notEqual(result.code, 0, `${what} (${value}): the API server refuses the pod`);
      assert.match(result.stderr, refusal, `${what} (${value})`);
      t.diagnostic(`${value}: ${result.stderr.trim()}`);
    }
  });

  it('grants the service accounts exactly what the repository defines (kubectl auth can-i --as)', async (t) => {
    const cp = cluster(t);
    if (!cp) return;
    // The services' own accounts: no token mounted, no rights.
    const deployments = await rolledOut(cp);
    for (const [deployment, pods] of deployments) {
      for (const pod of pods) {
        assert.equal(pod.spec.automountServiceAccountToken, false);
        assert.ok(
          !(pod.spec.volumes ?? []).some((v) => v.projected),
          `${pod.metadata.name}: no token volume`,
        );
        const as = `system:serviceaccount:${namespace}:${pod.spec.serviceAccountName}`;
        for (const [verb, resource] of [
          ['get', 'pods'],
          ['list', 'secrets'],
          ['get', 'configmaps'],
          ['create', 'pods'],
          ['list', 'services'],
        ] as const) {
          assert.equal(
            await canI(cp, as, verb, resource, namespace),
            false,
            `${as} ${verb} ${resource}`,
          );
        }
        assert.equal(pod.spec.serviceAccountName, deployment.metadata.name);
      }
    }

    // The collector agent's ClusterRole, from values/otel-agent.yaml, bound to its ServiceAccount as
    // the chart binds it (the chart itself cannot be downloaded here).
    await grantAgentRole(cp);
    const agent = 'system:serviceaccount:otel-agent:otel-agent';
    for (const [verb, resource] of [
      ['get', 'pods'],
      ['list', 'pods'],
      ['watch', 'pods'],
      ['watch', 'namespaces'],
      ['list', 'replicasets.apps'],
    ] as const) {
      assert.equal(await canI(cp, agent, verb, resource), true, `agent may ${verb} ${resource}`);
    }
    for (const [verb, resource] of [
      ['create', 'pods'],
      ['delete', 'pods'],
      ['patch', 'pods'],
      ['list', 'secrets'],
      ['list', 'nodes'],
      ['list', 'deployments.apps'],
      ['update', 'replicasets.apps'],
    ] as const) {
      assert.equal(
        await canI(cp, agent, verb, resource),
        false,
        `agent may not ${verb} ${resource}`,
      );
    }
  });

  it('k8s_attributes of the real collector, with the agent service account, enriches a known pod', async (t) => {
    const cp = cluster(t);
    if (!cp) return;
    const otelcol = requireTool('otelcol') as string;
    await grantAgentRole(cp);
    const deployments = await rolledOut(cp);
    const [deployment, pods] =
      [...deployments].find(([d]) => d.metadata.name === 'api-gateway') ?? [];
    assert.ok(deployment && pods?.[0]);
    const pod = pods[0];

    // A kubeconfig with the agent's service-account token (TokenRequest): its RBAC, nobody else's.
    const token = (
      await cp.kubectlOk(['create', 'token', 'otel-agent', '-n', 'otel-agent'])
    ).trim();
    const admin = parse(readFileSync(cp.kubeconfig, 'utf8')) as { clusters: Yaml[] };
    const kubeconfig = join(cp.dir, 'otel-agent.kubeconfig');
    writeFileSync(
      kubeconfig,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: admin.clusters,
        users: [{ name: 'otel-agent', user: { token } }],
        contexts: [{ name: 'otel-agent', context: { cluster: context, user: 'otel-agent' } }],
        'current-context': 'otel-agent',
      }),
    );
    // The committed agent configuration; only where it finds the API server changes (a kubeconfig,
    // outside a pod, instead of the pod's mounted token).
    const overlay = join(cp.dir, 'agent-outside-a-pod.yaml');
    writeFileSync(
      overlay,
      stringify({
        processors: { k8s_attributes: { auth_type: 'kubeConfig', context: 'otel-agent' } },
      }),
    );
    const gateway = await OtlpReceiver.start();
    const prometheus: Server = createServer((_, res) => res.end());
    await new Promise<void>((resolve) => prometheus.listen(0, '127.0.0.1', resolve));
    const [grpc, http, health, metrics] = await freePorts(4);
    const storage = mkdtempSync(join(tmpdir(), 'nos-cp-agent-'));
    const collector = await startCollector(
      otelcol,
      [
        '--config',
        join(repoRoot, 'collector/agent.yaml'),
        '--config',
        join(repoRoot, 'collector/agent-k8s.yaml'),
        '--config',
        overlay,
      ],
      {
        KUBECONFIG: kubeconfig,
        K8S_NODE_NAME: nodeName,
        OTELCOL_GATEWAY_HOSTNAME: '127.0.0.1',
        OTELCOL_GATEWAY_PORT: String(gateway.port),
        OTELCOL_OTLP_GRPC_ENDPOINT: `127.0.0.1:${grpc}`,
        OTELCOL_OTLP_HTTP_ENDPOINT: `127.0.0.1:${http}`,
        OTELCOL_HEALTH_ENDPOINT: `127.0.0.1:${health}`,
        OTELCOL_METRICS_HOST: '127.0.0.1',
        OTELCOL_METRICS_PORT: String(metrics),
        PROMETHEUS_URL: `http://127.0.0.1:${(prometheus.address() as { port: number }).port}`,
        OTELCOL_STORAGE_DIR: storage,
        OTELCOL_POD_LOGS_DIR: join(storage, 'no-pods'),
      },
      `http://127.0.0.1:${health}/`,
    );
    t.after(async () => {
      await collector.stop();
      await gateway.stop();
      prometheus.close();
      rmSync(storage, { recursive: true, force: true });
    });

    // A log record of the api-gateway pod, known by its IP (the agent's first association rule).
    // Sent until one arrives enriched: the processor's pod cache fills asynchronously.
    const expected = {
      'k8s.namespace.name': namespace,
      'k8s.pod.name': pod.metadata.name,
      'k8s.pod.uid': pod.metadata.uid,
      'k8s.pod.start_time': pod.status.startTime,
      'k8s.deployment.name': deployment.metadata.name,
      'k8s.node.name': nodeName,
    };
    let sent = 0;
    const enriched = await cp.until('a record enriched with the pod attributes', async () => {
      sent++;
      const body = {
        resourceLogs: [
          {
            resource: {
              attributes: [{ key: 'k8s.pod.ip', value: { stringValue: pod.status.podIP } }],
            },
            scopeLogs: [{ logRecords: [{ body: { stringValue: `record ${sent}` } }] }],
          },
        ],
      };
      const response = await fetch(`http://127.0.0.1:${http}/v1/logs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      await response.arrayBuffer();
      return gateway.logs.find((l) => l.resource['k8s.pod.uid'] !== undefined);
    });
    const actual = Object.fromEntries(Object.keys(expected).map((k) => [k, enriched.resource[k]]));
    assert.deepEqual(actual, expected, collector.tail());
    assert.doesNotMatch(
      collector.output.join('\n'),
      /forbidden/i,
      'no RBAC refusal in the agent log',
    );
  });

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
});

/**
 * The otel-agent release's ServiceAccount, ClusterRole (rules: values/otel-agent.yaml) and
 * ClusterRoleBinding, as the collector chart creates them.
 */
async function grantAgentRole(cp: ControlPlane): Promise<void> {
  const rules = (readYaml('values/otel-agent.yaml').clusterRole as { rules: unknown[] }).rules;
  const objects = [
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'otel-agent', namespace: 'otel-agent' },
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'otel-agent' },
      rules,
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'otel-agent' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'otel-agent' },
      subjects: [{ kind: 'ServiceAccount', name: 'otel-agent', namespace: 'otel-agent' }],
    },
  ];
  await cp.kubectlOk(
    ['apply', '-f', '-'],
    JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
  );
}
