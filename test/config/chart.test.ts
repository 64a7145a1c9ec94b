// chart/ (the generic service chart, installed twice by helmfile.yaml): `helm lint --strict`, `helm
// template` with the default values, with the values of both helmfile releases and with custom values,
// assertions on the rendered objects, and values.schema.json rejecting bad values.
// Needs helm (scripts/install-tools.sh helm): a failure under CI=true when it is missing.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { parseAllDocuments, stringify } from 'yaml';
import { readYaml } from '../support/kind-stack.ts';
import { restrictedViolations, type PodSpec as SecurityPodSpec } from '../support/pod-security.ts';
import { requireTool } from '../support/tools.ts';
import { repoRoot } from '../support/versions.ts';

const run = promisify(execFile);
const chartDir = join(repoRoot, 'chart');

type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  [key: string]: unknown;
};
type Container = {
  name: string;
  image: string;
  env: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  ports: { name: string; containerPort: number }[];
  livenessProbe: { httpGet: { path: string; port: string | number } };
  readinessProbe: { httpGet: { path: string; port: string | number } };
  lifecycle?: { preStop?: { sleep?: { seconds: number } } };
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  securityContext: Record<string, unknown> & { capabilities: { drop: string[] } };
  volumeMounts: { name: string; mountPath: string }[];
};
type PodSpec = {
  securityContext: Record<string, unknown> & { seccompProfile: { type: string } };
  terminationGracePeriodSeconds: number;
  automountServiceAccountToken: boolean;
  serviceAccountName: string;
  containers: Container[];
  volumes: { name: string; emptyDir?: Record<string, unknown> }[];
};

interface HelmRun {
  helm: string;
  tmp: string;
}

/** A values file in a temporary directory, for -f. */
function valuesFile(ctx: HelmRun, name: string, values: unknown): string {
  const file = join(ctx.tmp, `${name}.yaml`);
  writeFileSync(file, stringify(values));
  return file;
}

async function template(ctx: HelmRun, release: string, args: string[] = []): Promise<K8sObject[]> {
  const { stdout } = await run(
    ctx.helm,
    ['template', release, chartDir, '--namespace', 'apps', ...args],
    {
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  return parseAllDocuments(stdout)
    .map((doc) => doc.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

/** helm template must fail; returns its error output. */
async function templateFails(ctx: HelmRun, args: string[]): Promise<string> {
  try {
    await run(ctx.helm, ['template', 'x', chartDir, ...args]);
  } catch (error) {
    const { stderr } = error as { stderr?: string };
    return String(stderr ?? error);
  }
  assert.fail(`helm template ${args.join(' ')} succeeded; the schema should have rejected it`);
}

function find(objects: K8sObject[], kind: string): K8sObject {
  const found = objects.find((o) => o.kind === kind);
  assert.ok(found, `no ${kind} rendered (got ${objects.map((o) => o.kind).join(', ')})`);
  return found;
}

function podSpec(objects: K8sObject[]): PodSpec {
  const deployment = find(objects, 'Deployment');
  return (deployment.spec as { template: { spec: PodSpec } }).template.spec;
}

function container(objects: K8sObject[]): Container {
  const containers = podSpec(objects).containers;
  assert.equal(containers.length, 1);
  return containers[0] as Container;
}

function envValue(c: Container, name: string): string | undefined {
  return c.env.find((e) => e.name === name)?.value;
}

/** Skips (outside CI) or fails (CI) without helm; otherwise a fresh temp dir and the helm path. */
function setup(t: TestContext): HelmRun | undefined {
  const helm = requireTool('helm', t);
  if (!helm) return undefined;
  const tmp = mkdtempSync(join(tmpdir(), 'nos-chart-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  return { helm, tmp };
}

describe('chart/ (nos-service)', () => {
  it('passes helm lint --strict with the default values and with each release values', async (t) => {
    const ctx = setup(t);
    if (!ctx) return;
    await run(ctx.helm, ['lint', '--strict', chartDir]);
    for (const release of ['api-gateway', 'user-service']) {
      const tag = valuesFile(ctx, `${release}-tag`, { image: { tag: '0.1.0-0123456789ab' } });
      await run(ctx.helm, [
        'lint',
        '--strict',
        chartDir,
        '-f',
        join(repoRoot, `values/${release}.yaml`),
        '-f',
        tag,
      ]);
    }
  });

  it('renders a hardened Deployment with probes, downward-API resource attributes and labels', async (t) => {
    const ctx = setup(t);
    if (!ctx) return;
    const objects = await template(ctx, 'api-gateway', ['--set', 'image.tag=1.2.3-abcdef012345']);
    assert.deepEqual(objects.map((o) => o.kind).sort(), [
      'Deployment',
      'Service',
      'ServiceAccount',
    ]);

    // Standard labels on every object; selectors select the pods.
    for (const object of objects) {
      const labels = object.metadata.labels ?? {};
      assert.equal(labels['app.kubernetes.io/name'], 'api-gateway', `${object.kind} name label`);
      assert.equal(
        labels['app.kubernetes.io/instance'],
        'api-gateway',
        `${object.kind} instance label`,
      );
      assert.equal(
        labels['app.kubernetes.io/version'],
        '1.2.3-abcdef012345',
        `${object.kind} version label`,
      );
      assert.equal(labels['app.kubernetes.io/part-of'], 'node-observability-stack');
      assert.equal(labels['app.kubernetes.io/managed-by'], 'Helm');
      assert.match(labels['helm.sh/chart'] ?? '', /^nos-service-\d+\.\d+\.\d+$/);
    }
    const deployment = find(objects, 'Deployment');
    const spec = deployment.spec as {
      selector: { matchLabels: Record<string, string> };
      template: { metadata: { labels: Record<string, string> } };
    };
    for (const [key, value] of Object.entries(spec.selector.matchLabels)) {
      assert.equal(
        spec.template.metadata.labels[key],
        value,
        `pod label ${key} matches the selector`,
      );
    }
    assert.ok(
      !('app.kubernetes.io/version' in spec.selector.matchLabels),
      'the selector must not change with the tag',
    );

    // Security: non-root uid 1000 (node), RuntimeDefault seccomp, read-only root, nothing to escalate.
    const pod = podSpec(objects);
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.runAsUser, 1000);
    assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
    assert.equal(pod.automountServiceAccountToken, false);
    assert.equal(pod.serviceAccountName, 'api-gateway');
    const c = container(objects);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.runAsNonRoot, true);
    assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
    assert.deepEqual((c.securityContext.seccompProfile as { type: string }).type, 'RuntimeDefault');
    // The read-only root filesystem leaves /tmp writable through an emptyDir.
    assert.ok(c.volumeMounts.some((m) => m.mountPath === '/tmp' && m.name === 'tmp'));
    assert.ok(pod.volumes.some((v) => v.name === 'tmp' && v.emptyDir));

    // Image from the tag; probes on the services' endpoints, on the named port.
    assert.equal(c.image, 'api-gateway:1.2.3-abcdef012345');
    assert.equal(c.name, 'api-gateway');
    assert.deepEqual(c.ports, [{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    assert.deepEqual(c.livenessProbe.httpGet, { path: '/healthz', port: 'http' });
    assert.deepEqual(c.readinessProbe.httpGet, { path: '/readyz', port: 'http' });
    assert.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory);

    // Graceful shutdown: preStop sleep, then the services drain up to 10 s (SHUTDOWN_TIMEOUT_MS) and
    // flush telemetry (bounded by 5 s): the grace period must cover all of it.
    const preStop = c.lifecycle?.preStop?.sleep?.seconds ?? 0;
    assert.ok(preStop > 0, 'a preStop sleep lets endpoint removal propagate before SIGTERM');
    assert.ok(
      pod.terminationGracePeriodSeconds >= preStop + 10 + 5,
      `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} < preStop ${preStop} + drain 10 + flush 5`,
    );

    // OpenTelemetry: collector endpoint, and the pod's identity from the downward API, declared before
    // OTEL_RESOURCE_ATTRIBUTES (the kubelet expands $(VAR) only from variables defined earlier).
    assert.equal(envValue(c, 'PORT'), '8080');
    assert.equal(
      envValue(c, 'OTEL_EXPORTER_OTLP_ENDPOINT'),
      'http://otel-agent.otel-agent.svc.cluster.local:4317',
    );
    const fieldRefs: Record<string, string> = {
      K8S_POD_NAME: 'metadata.name',
      K8S_NAMESPACE_NAME: 'metadata.namespace',
      K8S_NODE_NAME: 'spec.nodeName',
    };
    const names = c.env.map((e) => e.name);
    const attributesIndex = names.indexOf('OTEL_RESOURCE_ATTRIBUTES');
    for (const [name, fieldPath] of Object.entries(fieldRefs)) {
      const env = c.env.find((e) => e.name === name);
      assert.equal(env?.valueFrom?.fieldRef?.fieldPath, fieldPath, `${name} from the downward API`);
      assert.ok(
        names.indexOf(name) < attributesIndex,
        `${name} is declared before OTEL_RESOURCE_ATTRIBUTES`,
      );
    }
    const attributes = new Map(
      (envValue(c, 'OTEL_RESOURCE_ATTRIBUTES') ?? '')
        .split(',')
        .map((pair) => pair.split('=') as [string, string]),
    );
    assert.equal(attributes.get('service.version'), '1.2.3-abcdef012345');
    assert.equal(attributes.get('k8s.pod.name'), '$(K8S_POD_NAME)');
    assert.equal(attributes.get('k8s.namespace.name'), '$(K8S_NAMESPACE_NAME)');
    assert.equal(attributes.get('k8s.node.name'), '$(K8S_NODE_NAME)');
    assert.equal(attributes.get('deployment.environment.name'), 'kind');
    // service.name stays the one the service sets itself (dashboards and alerts select on it).
    assert.equal(envValue(c, 'OTEL_SERVICE_NAME'), undefined);
    // The project's telemetry package, unless the stock zero-code setup is asked for.
    assert.equal(envValue(c, 'TELEMETRY_MODE'), 'tuned');
    const stock = await template(ctx, 'api-gateway', ['--set', 'otel.mode=stock-esm']);
    assert.equal(envValue(container(stock), 'TELEMETRY_MODE'), 'stock-esm');

    // No autoscaler / disruption budget unless asked for; ClusterIP by default.
    const service = find(objects, 'Service').spec as {
      type: string;
      ports: { nodePort?: number }[];
    };
    assert.equal(service.type, 'ClusterIP');
    assert.equal(service.ports[0]?.nodePort, undefined);
  });

  it('renders the helmfile releases: api-gateway on NodePort 30080 calling user-service on 8081', async (t) => {
    const ctx = setup(t);
    if (!ctx) return;
    const tag = valuesFile(ctx, 'tag', { image: { tag: '0.1.0-0123456789ab' } });
    const gateway = await template(ctx, 'api-gateway', [
      '-f',
      join(repoRoot, 'values/api-gateway.yaml'),
      '-f',
      tag,
    ]);
    const users = await template(ctx, 'user-service', [
      '-f',
      join(repoRoot, 'values/user-service.yaml'),
      '-f',
      tag,
    ]);

    const gatewayService = find(gateway, 'Service');
    assert.equal(gatewayService.metadata.name, 'api-gateway');
    assert.deepEqual((gatewayService.spec as { type: string }).type, 'NodePort');
    assert.deepEqual((gatewayService.spec as { ports: unknown[] }).ports, [
      { name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP', nodePort: 30080 },
    ]);
    const userService = find(users, 'Service');
    assert.equal(userService.metadata.name, 'user-service');
    assert.equal((userService.spec as { type: string }).type, 'ClusterIP');
    const userPort = (userService.spec as { ports: { port: number }[] }).ports[0]?.port;
    assert.equal(userPort, 8081);
    assert.equal(envValue(container(users), 'PORT'), '8081');
    assert.equal(container(users).image, 'user-service:0.1.0-0123456789ab');

    // The gateway reaches user-service through that Service (name.namespace:port).
    const url = new URL(envValue(container(gateway), 'USER_SERVICE_URL') ?? '');
    assert.equal(url.hostname.split('.')[0], userService.metadata.name);
    assert.equal(url.hostname.split('.')[1], 'apps');
    assert.equal(Number(url.port), userPort);
  });

  it('renders the optional HPA and PodDisruptionBudget and a NodePort Service when asked', async (t) => {
    const ctx = setup(t);
    if (!ctx) return;
    const custom = valuesFile(ctx, 'custom', {
      image: {
        repository: 'registry.example.com/team/api-gateway',
        tag: '2.0.0',
        pullPolicy: 'Always',
      },
      service: { type: 'NodePort', port: 8080, nodePort: 31080 },
      autoscaling: {
        enabled: true,
        minReplicas: 2,
        maxReplicas: 5,
        targetCPUUtilizationPercentage: 70,
      },
      podDisruptionBudget: { enabled: true, minAvailable: 1 },
      env: { LOG_LEVEL: 'debug', USER_SERVICE_TIMEOUT_MS: 1500 },
      otel: {
        endpoint: 'http://collector.example:4317',
        resourceAttributes: { 'deployment.environment.name': 'staging' },
      },
      preStopSleepSeconds: 0,
    });
    await run(ctx.helm, ['lint', '--strict', chartDir, '-f', custom]);
    const objects = await template(ctx, 'edge', ['-f', custom]);

    const hpa = find(objects, 'HorizontalPodAutoscaler').spec as Record<string, unknown>;
    assert.equal(hpa.minReplicas, 2);
    assert.equal(hpa.maxReplicas, 5);
    assert.deepEqual(hpa.scaleTargetRef, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'edge',
    });
    // With an HPA the Deployment leaves replicas to it.
    assert.equal((find(objects, 'Deployment').spec as Record<string, unknown>).replicas, undefined);

    const pdb = find(objects, 'PodDisruptionBudget').spec as Record<string, unknown>;
    assert.equal(pdb.minAvailable, 1);
    assert.equal(pdb.maxUnavailable, undefined);

    const service = find(objects, 'Service').spec as {
      type: string;
      ports: { nodePort?: number }[];
    };
    assert.equal(service.type, 'NodePort');
    assert.equal(service.ports[0]?.nodePort, 31080);

    const c = container(objects);
    assert.equal(c.image, 'registry.example.com/team/api-gateway:2.0.0');
    assert.equal(envValue(c, 'LOG_LEVEL'), 'debug');
    assert.equal(envValue(c, 'USER_SERVICE_TIMEOUT_MS'), '1500');
    assert.equal(envValue(c, 'OTEL_EXPORTER_OTLP_ENDPOINT'), 'http://collector.example:4317');
    assert.match(
      envValue(c, 'OTEL_RESOURCE_ATTRIBUTES') ?? '',
      /(^|,)deployment\.environment\.name=staging(,|$)/,
    );
    assert.equal(c.lifecycle, undefined);

    // The default PDB (maxUnavailable 1) never blocks a node drain of a single replica.
    const defaults = await template(ctx, 'x', ['--set', 'podDisruptionBudget.enabled=true']);
    assert.deepEqual(
      (find(defaults, 'PodDisruptionBudget').spec as Record<string, unknown>).maxUnavailable,
      1,
    );
  });

  it('rejects bad values (values.schema.json and template checks)', async (t) => {
    const ctx = setup(t);
    if (!ctx) return;
    const bad: [string, string[], RegExp][] = [
      ['unknown top-level key (typo)', ['--set', 'replicas=2'], /additional propert/],
      [
        'root filesystem made writable',
        ['--set', 'securityContext.readOnlyRootFilesystem=false'],
        /readOnlyRootFilesystem/,
      ],
      [
        'privilege escalation',
        ['--set', 'securityContext.allowPrivilegeEscalation=true'],
        /allowPrivilegeEscalation/,
      ],
      ['root user allowed', ['--set', 'podSecurityContext.runAsNonRoot=false'], /runAsNonRoot/],
      [
        'no numeric uid (USER node cannot be checked)',
        ['--set', 'podSecurityContext.runAsUser=null'],
        /runAsUser/,
      ],
      ['capability added', ['--set', 'securityContext.capabilities.add={NET_ADMIN}'], /add/],
      [
        'grace period shorter than the drain',
        ['--set', 'terminationGracePeriodSeconds=5'],
        /terminationGracePeriodSeconds/,
      ],
      [
        'NodePort out of range',
        ['--set', 'service.type=NodePort,service.nodePort=8080'],
        /nodePort/,
      ],
      ['nodePort on a ClusterIP Service', ['--set', 'service.nodePort=30080'], /nodePort/],
      ['unknown Service type', ['--set', 'service.type=LoadBalancer'], /type/],
      ['bad pull policy', ['--set', 'image.pullPolicy=Sometimes'], /pullPolicy/],
      ['image tag with a space', ['--set', 'image.tag=1.0 beta'], /tag/],
      ['unknown telemetry mode', ['--set', 'otel.mode=fast'], /mode/],
      [
        'collector endpoint without scheme',
        ['--set', 'otel.endpoint=otel-collector:4317'],
        /endpoint/,
      ],
      [
        'env overriding the chart-managed OTEL_RESOURCE_ATTRIBUTES',
        ['--set', 'env.OTEL_RESOURCE_ATTRIBUTES=x=y'],
        /OTEL_RESOURCE_ATTRIBUTES/,
      ],
      [
        'resource attribute the chart sets itself',
        ['--set', 'otel.resourceAttributes.service\\.version=1'],
        /service\.version/,
      ],
      [
        'resource attribute value with a comma',
        ['--set-string', 'otel.resourceAttributes.team=a\\,b'],
        /resourceAttributes|team/,
      ],
      ['CPU request that is not a quantity', ['--set', 'resources.requests.cpu=lots'], /cpu/],
      ['probe path without leading slash', ['--set', 'livenessProbe.httpGet.path=healthz'], /path/],
      ['port out of range', ['--set', 'containerPort=70000'], /containerPort/],
      [
        'PDB with both minAvailable and maxUnavailable',
        [
          '--set',
          'podDisruptionBudget.enabled=true,podDisruptionBudget.minAvailable=1,podDisruptionBudget.maxUnavailable=1',
        ],
        /podDisruptionBudget|not/,
      ],
      // Under draft-07 every keyword next to a $ref is ignored: these passed before the schema put
      // `required` in an allOf beside the $ref. (--set x=null removes the key from the values.)
      ['no memory request', ['--set', 'resources.requests.memory=null'], /memory/],
      ['no CPU request', ['--set', 'resources.requests.cpu=null'], /cpu/],
      ['no memory limit', ['--set', 'resources.limits.memory=null'], /memory/],
      // Pod Security "restricted" needs a seccomp profile; the chart keeps one at both levels.
      [
        'pod seccomp profile removed',
        ['--set', 'podSecurityContext.seccompProfile=null'],
        /seccompProfile/,
      ],
      [
        'container seccomp profile removed',
        ['--set', 'securityContext.seccompProfile=null'],
        /seccompProfile/,
      ],
      [
        'seccomp Unconfined',
        ['--set', 'securityContext.seccompProfile.type=Unconfined'],
        /type|seccompProfile/,
      ],
      // Every key of both security contexts is known: a typo would be dropped by the API server's
      // decoding or refused by it, and the other keys of a security context loosen "restricted".
      [
        'typo in a container security key',
        ['--set', 'securityContext.readOnlyRootFileSystem=true'],
        /readOnlyRootFileSystem/,
      ],
      [
        'typo in a pod security key',
        ['--set', 'podSecurityContext.runAsGroupp=1000'],
        /runAsGroupp/,
      ],
      [
        'typo in the capabilities',
        ['--set', 'securityContext.capabilities.ad={NET_ADMIN}'],
        /ad\b|additional propert/,
      ],
      [
        'unsafe sysctl',
        [
          '--set',
          'podSecurityContext.sysctls[0].name=kernel.msgmax,podSecurityContext.sysctls[0].value=1',
        ],
        /sysctls/,
      ],
      [
        'AppArmor Unconfined (container)',
        ['--set', 'securityContext.appArmorProfile.type=Unconfined'],
        /appArmorProfile|type/,
      ],
      [
        'AppArmor Unconfined (pod)',
        ['--set', 'podSecurityContext.appArmorProfile.type=Unconfined'],
        /appArmorProfile|type/,
      ],
      [
        'SELinux type spc_t (unconfined)',
        ['--set', 'securityContext.seLinuxOptions.type=spc_t'],
        /seLinuxOptions|type/,
      ],
      [
        'SELinux user set',
        ['--set', 'podSecurityContext.seLinuxOptions.user=system_u'],
        /seLinuxOptions|user/,
      ],
      ['procMount Unmasked', ['--set', 'securityContext.procMount=Unmasked'], /procMount/],
      [
        'Windows hostProcess',
        ['--set', 'securityContext.windowsOptions.hostProcess=true'],
        /windowsOptions/,
      ],
      [
        'seccomp profile with an unknown key',
        ['--set', 'securityContext.seccompProfile.localhost=x'],
        /localhost/,
      ],
      ['no liveness probe', ['--set', 'livenessProbe=null'], /livenessProbe/],
      ['no readiness probe', ['--set', 'readinessProbe=null'], /readinessProbe/],
      // JSON schema cannot compare two values: the template's `fail` does (chart/templates/_helpers.tpl).
      [
        'preStop sleep leaving no time to drain and flush',
        ['--set', 'preStopSleepSeconds=20,terminationGracePeriodSeconds=30'],
        /terminationGracePeriodSeconds \(30\) must be at least preStopSleepSeconds \(20\) \+ 15/,
      ],
      [
        'preStop sleep as long as the grace period',
        ['--set', 'preStopSleepSeconds=30,terminationGracePeriodSeconds=30'],
        /terminationGracePeriodSeconds/,
      ],
      [
        'HPA with min > max',
        ['--set', 'autoscaling.enabled=true,autoscaling.minReplicas=4,autoscaling.maxReplicas=2'],
        /minReplicas/,
      ],
    ];
    for (const [what, args, pattern] of bad) {
      const message = await templateFails(ctx, args);
      assert.match(message, pattern, `${what}: ${message}`);
    }
  });

  it('accepts the longest preStop sleep its grace period covers (preStop + 15 = grace)', async (t) => {
    const ctx = setup(t);
    if (!ctx) return;
    const objects = await template(ctx, 'x', [
      '--set',
      'preStopSleepSeconds=15,terminationGracePeriodSeconds=30',
    ]);
    assert.equal(container(objects).lifecycle?.preStop?.sleep?.seconds, 15);
  });

  it('renders pods that meet Pod Security "restricted" (defaults, both releases, custom values)', async (t) => {
    // The namespace apps enforces "restricted" (namespaces.yaml): a pod that fails it is not admitted.
    const ctx = setup(t);
    if (!ctx) return;
    const tag = valuesFile(ctx, 'tag', { image: { tag: '0.1.0-0123456789ab' } });
    const renders = {
      defaults: await template(ctx, 'x'),
      'api-gateway': await template(ctx, 'api-gateway', [
        '-f',
        join(repoRoot, 'values/api-gateway.yaml'),
        '-f',
        tag,
      ]),
      'user-service': await template(ctx, 'user-service', [
        '-f',
        join(repoRoot, 'values/user-service.yaml'),
        '-f',
        tag,
      ]),
      'hpa, pdb, no preStop': await template(ctx, 'x', [
        '--set',
        'autoscaling.enabled=true,podDisruptionBudget.enabled=true,preStopSleepSeconds=0',
      ]),
    };
    for (const [what, objects] of Object.entries(renders)) {
      const pod = podSpec(objects) as unknown as SecurityPodSpec;
      assert.deepEqual(restrictedViolations(pod), [], what);
    }
  });

  it('prints NOTES.txt with the collector endpoint and how to reach the service', async (t) => {
    const ctx = setup(t);
    if (!ctx) return;
    const tag = valuesFile(ctx, 'tag', { image: { tag: '0.1.0-0123456789ab' } });
    const install = (release: string) =>
      run(ctx.helm, [
        'install',
        release,
        chartDir,
        '--namespace',
        'apps',
        '--dry-run=client',
        '-f',
        join(repoRoot, `values/${release}.yaml`),
        '-f',
        tag,
      ]);
    const gateway = (await install('api-gateway')).stdout;
    assert.match(gateway, /NOTES:/);
    assert.ok(gateway.includes('http://otel-agent.otel-agent.svc.cluster.local:4317'));
    assert.ok(gateway.includes('port 30080'));
    const users = (await install('user-service')).stdout;
    assert.ok(users.includes('port-forward service/user-service 8081:8081'));
  });

  it('keeps values.yaml and the schema in step (every default validates, every key is described)', (t) => {
    const values = readYaml('chart/values.yaml');
    const schema = readYaml<{ properties: Record<string, unknown> }>('chart/values.schema.json');
    for (const key of Object.keys(values)) {
      assert.ok(key in schema.properties, `values.yaml key ${key} has no schema`);
    }
    t.diagnostic(`${Object.keys(values).length} top-level values, all in values.schema.json`);
  });
});
