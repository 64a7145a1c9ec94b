// Decisions of the kind stack that only show on a cluster, checked on the repository's files:
// - kube-prometheus-stack's default rules: none left that cannot be satisfied on kind;
// - Pod Security: each namespace's enforced level, and the third-party pods' security settings in
//   values/ against the "restricted" rules (test/support/pod-security.ts);
// - Loki's index labels of OTLP logs: one deliberate list (local, compose and kind), nothing per pod;
// - the collector's two tiers: gateways "restricted", agents "privileged" in their own namespace with
//   no more privilege than reading the node's pod log files needs;
// - the collector's k8s_attributes extract list;
// - every repository path that the kind stack's files name in their comments exists.
// The third-party charts cannot be downloaded here: their values are checked structurally, against
// keys read in the charts at the versions pinned in helmfile.yaml.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import {
  at,
  readHelmfile,
  readYaml,
  release,
  releaseValue,
  type Yaml,
} from '../support/kind-stack.ts';
import {
  baselineViolations,
  restrictedPod,
  restrictedViolations,
  strictestLevel,
  type PodChange,
  type PodSpec,
} from '../support/pod-security.ts';
import { repoRoot } from '../support/versions.ts';

const helmfile = readHelmfile();
const kps = release(helmfile, 'kube-prometheus-stack');
const read = (path: string) => readFileSync(join(repoRoot, path), 'utf8');

type Namespace = { metadata: { name: string; labels: Record<string, string> } };
const namespaces = parseAllDocuments(read('namespaces.yaml')).map((d) => d.toJS() as Namespace);

/**
 * A collector release's pod as the pinned opentelemetry-collector chart (templates/_pod.tpl) renders
 * it: `securityContext` is the container's, `podSecurityContext` the pod's, the chart's config volume
 * plus `extraVolumes`; `ports` as the chart gives them to a DaemonSet (hostPort unless 0).
 */
function collectorPod(r: ReturnType<typeof release>): PodSpec {
  const agent = releaseValue(r, 'mode') === 'daemonset';
  const ports = (releaseValue(r, 'ports') ?? {}) as Record<
    string,
    { enabled: boolean; hostPort?: number }
  >;
  const chartHostPorts: Record<string, number> = { otlp: 4317, 'otlp-http': 4318 };
  return {
    hostNetwork: releaseValue(r, 'hostNetwork') === true,
    securityContext: (releaseValue(r, 'podSecurityContext') ?? {}) as PodSpec['securityContext'],
    containers: [
      {
        name: 'opentelemetry-collector',
        securityContext: releaseValue(r, 'securityContext') as never,
        ports: Object.entries(ports)
          .filter(([, port]) => port.enabled)
          .map(([name, port]) => ({
            hostPort: agent ? (port.hostPort ?? chartHostPorts[name]) : undefined,
          })),
      },
    ],
    volumes: [
      { name: 'opentelemetry-collector-configmap', configMap: { name: r.name } },
      ...((releaseValue(r, 'extraVolumes') ?? []) as Yaml[]),
    ],
  };
}

const level = (name: string) =>
  namespaces.find((n) => n.metadata.name === name)?.metadata.labels[
    'pod-security.kubernetes.io/enforce'
  ];

describe('kube-prometheus-stack default rules on kind', () => {
  const disabled = (releaseValue(kps, 'defaultRules.disabled') ?? {}) as Record<string, boolean>;

  it('leaves out every Alertmanager-dependent rule when there is no Alertmanager', () => {
    assert.equal(releaseValue(kps, 'alertmanager.enabled'), false);
    assert.equal(releaseValue(kps, 'defaultRules.rules.alertmanager'), false);
    // prometheus.rules alerts that need an Alertmanager (PrometheusNotConnectedToAlertmanagers fires
    // forever without one), and general.rules' alerts meant for Alertmanager (Watchdog always fires).
    for (const alert of [
      'PrometheusNotConnectedToAlertmanagers',
      'PrometheusErrorSendingAlertsToSomeAlertmanagers',
      'PrometheusErrorSendingAlertsToAnyAlertmanager',
      'PrometheusNotificationQueueRunningFull',
      'Watchdog',
      'InfoInhibitor',
    ]) {
      assert.equal(disabled[alert], true, `${alert} is disabled`);
    }
  });

  it('scrapes no control-plane component that kind binds to localhost (their rules go with them)', () => {
    // kube-prometheus-stack renders KubeControllerManagerDown, KubeSchedulerDown, the etcd rules and
    // KubeProxyDown only when the component is enabled.
    for (const component of ['kubeControllerManager', 'kubeScheduler', 'kubeEtcd', 'kubeProxy']) {
      assert.equal(releaseValue(kps, `${component}.enabled`), false, `${component} disabled`);
    }
    assert.equal(releaseValue(kps, 'defaultRules.rules.windows'), false, 'no Windows nodes');
  });

  it('disables only alerts the chart defines (a typo would silently disable nothing)', () => {
    // The alerts of the pinned kube-prometheus-stack chart's rule templates that this file may name.
    const known = new Set([
      'PrometheusNotConnectedToAlertmanagers',
      'PrometheusErrorSendingAlertsToSomeAlertmanagers',
      'PrometheusErrorSendingAlertsToAnyAlertmanager',
      'PrometheusNotificationQueueRunningFull',
      'Watchdog',
      'InfoInhibitor',
      'TargetDown',
    ]);
    for (const name of Object.keys(disabled))
      assert.ok(known.has(name), `${name} is a chart alert`);
    assert.notEqual(disabled.TargetDown, true, 'TargetDown stays: a down target is a real problem');
  });
});

describe('Pod Security', () => {
  it('labels every namespace of the stack with an enforced level, audited and warned alike', () => {
    const used = new Set(helmfile.releases.map((r) => r.namespace));
    used.add(String(releaseValue(kps, 'prometheus-node-exporter.namespaceOverride')));
    assert.deepEqual(new Set(namespaces.map((n) => n.metadata.name)), used);
    for (const { metadata } of namespaces) {
      const labels = metadata.labels;
      const enforce = labels['pod-security.kubernetes.io/enforce'];
      assert.ok(enforce, `${metadata.name} enforces a level`);
      assert.equal(labels['pod-security.kubernetes.io/audit'], enforce, metadata.name);
      assert.equal(labels['pod-security.kubernetes.io/warn'], enforce, metadata.name);
    }
    assert.equal(level('apps'), 'restricted');
    assert.equal(level('observability'), 'restricted');
    assert.equal(level('otel-agent'), 'privileged');
  });

  it('keeps node-exporter, a privileged pod, in a namespace of its own', () => {
    const namespace = releaseValue(kps, 'prometheus-node-exporter.namespaceOverride') as string;
    assert.notEqual(namespace, kps.namespace);
    assert.equal(level(namespace), 'privileged');
    // Nothing else is installed there.
    assert.ok(!helmfile.releases.some((r) => r.namespace === namespace));
    // node-exporter's DaemonSet as the chart renders it needs exactly that: host namespaces, /proc, /sys.
    const nodeExporter: PodSpec = {
      hostNetwork: true,
      hostPID: true,
      containers: [
        { name: 'node-exporter', securityContext: { readOnlyRootFilesystem: true } as never },
      ],
      volumes: [
        { name: 'proc', hostPath: { path: '/proc' } },
        { name: 'sys', hostPath: { path: '/sys' } },
      ],
    };
    assert.equal(strictestLevel(nodeExporter), 'privileged');
  });

  it("applies namespaces.yaml before any release installs (up.sh and the first release's presync hook)", () => {
    const upScript = read('scripts/up.sh');
    assert.ok(
      upScript.indexOf('apply -f namespaces.yaml') < upScript.indexOf('helmfile --file'),
      'up.sh labels the namespaces before helmfile apply',
    );
    const hooks = JSON.stringify(kps.hooks ?? []);
    assert.match(hooks, /apply -f namespaces\.yaml/);
  });

  it('runs Tempo under "restricted" (pod and container security contexts of values/tempo.yaml)', () => {
    const tempo = release(helmfile, 'tempo');
    // The pinned tempo chart: `securityContext` is the pod's, `tempo.securityContext` its container's.
    const pod = (context: unknown): PodSpec => ({
      securityContext: releaseValue(tempo, 'securityContext') as PodSpec['securityContext'],
      containers: [{ name: 'tempo', securityContext: context as never }],
      volumes: [
        { name: 'tempo-conf', configMap: { name: 'tempo' } },
        { name: 'storage', persistentVolumeClaim: { claimName: 'storage' } },
      ],
    });
    assert.deepEqual(restrictedViolations(pod(releaseValue(tempo, 'tempo.securityContext'))), []);
    // The chart's own defaults (empty container context, no seccomp) are what failed before.
    const chartDefaults: PodSpec = {
      securityContext: { runAsUser: 10001, runAsNonRoot: true },
      containers: [{ name: 'tempo' }],
    };
    assert.equal(strictestLevel(chartDefaults), 'baseline');
  });

  it('runs the collector gateways under "restricted" (values/otel-gateway.yaml)', () => {
    const gateway = release(helmfile, 'otel-gateway');
    assert.equal(level(gateway.namespace), 'restricted');
    assert.deepEqual(restrictedViolations(collectorPod(gateway)), []);
  });

  it('keeps the collector agents, hostPath and root, in a privileged namespace of their own', () => {
    const agent = release(helmfile, 'otel-agent');
    assert.equal(level(agent.namespace), 'privileged');
    // Nothing else is installed there.
    assert.deepEqual(
      helmfile.releases.filter((r) => r.namespace === agent.namespace).map((r) => r.name),
      [agent.name],
    );
    const pod = collectorPod(agent);
    assert.equal(strictestLevel(pod), 'privileged');
    // Only the two hostPath volumes put it above "baseline": no host namespaces, no hostPort, no
    // added capability, no privileged container.
    assert.deepEqual(baselineViolations(pod), ['hostPath volumes: volumes "pod-logs", "queue"']);
    // And only root (to read the root-owned log files) on top of that keeps it from "restricted":
    // every other setting of the restricted profile holds.
    assert.deepEqual(
      restrictedViolations(pod).filter((v) => !v.includes('hostPath')),
      [
        'runAsNonRoot != true: container "opentelemetry-collector" must not set securityContext.runAsNonRoot=false',
        'runAsUser=0: container "opentelemetry-collector" must not set runAsUser=0',
      ],
    );
    const context = releaseValue(agent, 'securityContext') as Yaml;
    assert.equal(context.readOnlyRootFilesystem, true);
    assert.deepEqual(at(context, 'capabilities.add') ?? [], [], 'no capability added back');
  });

  it('the checker itself tells the levels apart (kubernetes.io pod-security-standards)', () => {
    assert.equal(strictestLevel(restrictedPod()), 'restricted');
    const variants: [string, PodChange, 'baseline' | 'privileged'][] = [
      ['no seccomp anywhere', { pod: { seccompProfile: undefined } }, 'baseline'],
      ['escalation allowed', { container: { allowPrivilegeEscalation: true } }, 'baseline'],
      ['root allowed', { pod: { runAsNonRoot: false } }, 'baseline'],
      ['capability kept', { container: { capabilities: { drop: [] } } }, 'baseline'],
      ['hostPath volume', { volume: { name: 'host', hostPath: { path: '/' } } }, 'privileged'],
      ['privileged container', { container: { privileged: true } }, 'privileged'],
      ['hostNetwork', { spec: { hostNetwork: true } }, 'privileged'],
      [
        'SYS_ADMIN added',
        { container: { capabilities: { drop: ['ALL'], add: ['SYS_ADMIN'] } } },
        'privileged',
      ],
      ['seccomp Unconfined', { pod: { seccompProfile: { type: 'Unconfined' } } }, 'privileged'],
    ];
    for (const [what, change, expected] of variants) {
      const pod = restrictedPod(change);
      assert.equal(strictestLevel(pod), expected, what);
      assert.ok(restrictedViolations(pod).length > 0, what);
      assert.equal(baselineViolations(pod).length === 0, expected === 'baseline', what);
    }
  });
});

describe('Loki index labels of OTLP logs', () => {
  const local = at(
    readYaml('backends/loki.yaml'),
    'distributor.otlp_config.default_resource_attributes_as_index_labels',
  ) as string[];
  const kind = releaseValue(
    release(helmfile, 'loki'),
    'loki.distributor.otlp_config.default_resource_attributes_as_index_labels',
  ) as string[];

  it('are one deliberate list, the same for the local processes, compose and kind', () => {
    assert.ok(Array.isArray(local) && local.length > 0, 'backends/loki.yaml states the list');
    assert.deepEqual(kind, local);
    // No second mechanism that would add or demote labels behind the list's back.
    assert.equal(at(readYaml('backends/loki.yaml'), 'limits_config.otlp_config'), undefined);
    assert.equal(
      releaseValue(release(helmfile, 'loki'), 'loki.limits_config.otlp_config'),
      undefined,
    );
  });

  it('index nothing that changes with a process, a pod or a rollout', () => {
    for (const attribute of [
      'service.instance.id',
      'k8s.pod.name',
      'k8s.pod.uid',
      'k8s.pod.start_time',
      'k8s.replicaset.name',
      'k8s.replicaset.uid',
      'k8s.container.name',
      'k8s.node.name',
      'container.image.tag',
      'service.version',
    ]) {
      assert.ok(!local.includes(attribute), `${attribute} is structured metadata, not a label`);
    }
  });

  it('index what the services and the collector actually set', () => {
    // The services set service.name / service.namespace (services/telemetry) and
    // deployment.environment.name (values, compose); the collector's k8s_attributes adds the k8s.* ones.
    const overlay = at(
      readYaml('collector/agent-k8s.yaml'),
      'processors.k8s_attributes.extract.metadata',
    ) as string[];
    const set = new Set([
      'service.name',
      'service.namespace',
      'deployment.environment.name',
      ...overlay,
    ]);
    for (const label of local) assert.ok(set.has(label), `${label} is set by someone`);
  });
});

describe("the collector's k8s_attributes", () => {
  it('extracts exactly these six attributes (not the 23 of the chart preset, which stays off)', () => {
    const extracted = at(
      readYaml('collector/agent-k8s.yaml'),
      'processors.k8s_attributes.extract.metadata',
    ) as string[];
    assert.deepEqual(extracted, [
      'k8s.namespace.name',
      'k8s.pod.name',
      'k8s.pod.uid',
      'k8s.pod.start_time',
      'k8s.deployment.name',
      'k8s.node.name',
    ]);
    // The preset would add its own k8s_attributes (23 attributes) to relay.yaml: the agent's
    // ClusterRole comes from clusterRole.rules instead (the collector helmfile tests check them).
    const agent = release(helmfile, 'otel-agent');
    assert.notEqual(releaseValue(agent, 'presets.kubernetesAttributes.enabled'), true);
    assert.equal(releaseValue(agent, 'clusterRole.create'), true);
  });
});

describe('paths named in the kind stack files', () => {
  it('exist (no stale references in comments)', () => {
    const files = [
      'kind-config.yaml',
      'helmfile.yaml',
      'namespaces.yaml',
      'collector/agent.yaml',
      'collector/agent-k8s.yaml',
      'collector/gateway.yaml',
      'backends/loki.yaml',
      'backends/tempo.yaml',
      ...readdirSync(join(repoRoot, 'values')).map((f) => `values/${f}`),
    ];
    const pathPattern =
      /\b(?:values|collector|backends|grafana|chart|scripts|test)\/[\w./-]*\w\.(?:ya?ml|gotmpl|json|ts|sh)\b/g;
    let checked = 0;
    for (const file of files) {
      for (const [path] of read(file).matchAll(pathPattern)) {
        checked++;
        assert.ok(existsSync(join(repoRoot, path)), `${file} names ${path}, which does not exist`);
      }
    }
    assert.ok(checked > 10, `${checked} paths checked`);
  });
});
