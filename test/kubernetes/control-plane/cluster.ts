// The local control plane that test/kubernetes/control-plane.test.ts starts once (etcd,
// kube-apiserver, controller-manager, scheduler, kwok: test/support/control-plane.ts), and what its
// subject modules share: the releases installed, `npm run up` / `npm run down` against it, the objects
// helmfile renders, the rolled-out Deployments, RBAC checks and the collector agent's role.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { parseAllDocuments } from 'yaml';
import {
  context,
  ControlPlane,
  controlPlaneTools,
  exec,
  type Result,
} from '../../support/control-plane.ts';
import { readYaml } from '../../support/kind-stack.ts';
import { findTool, inCI } from '../../support/tools.ts';
import { repoRoot } from '../../support/versions.ts';

// The releases whose charts are in the repository: the third-party charts cannot be downloaded here.
export const releases = ['user-service', 'api-gateway'];
export const namespace = 'apps';
const tags = {
  NOS_API_GATEWAY_TAG: '0.1.0-controlplane',
  NOS_USER_SERVICE_TAG: '0.1.0-controlplane',
};

export interface Meta {
  name: string;
  namespace?: string;
  uid: string;
  labels?: Record<string, string>;
  generation?: number;
  resourceVersion: string;
  ownerReferences?: { kind: string; name: string }[];
}
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: Meta;
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}
export interface List<T = K8sObject> {
  items: T[];
}
export interface Pod extends K8sObject {
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
export interface Deployment extends K8sObject {
  spec: { replicas: number; selector: { matchLabels: Record<string, string> } };
  status: { readyReplicas?: number; observedGeneration?: number };
}
export interface Service extends K8sObject {
  spec: {
    type: string;
    clusterIP: string;
    ports: { port: number; targetPort: number | string; nodePort?: number }[];
  };
}
export interface EndpointSlice extends K8sObject {
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

/** Starts the control plane, or records why there is none (the tests then fail or skip). */
export async function startControlPlane(): Promise<void> {
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
}

export async function stopControlPlane(): Promise<void> {
  if (plane) {
    await plane.stop();
    plane.remove();
  }
}

/** The running control plane; a failure under CI=true, else a skip, when there is none. */
export function cluster(t: TestContext): ControlPlane | undefined {
  if (plane) return plane;
  const why = unavailable ?? 'the control plane did not start';
  if (inCI || !unavailable?.startsWith('not installed')) throw new Error(why);
  t.skip(why);
  return undefined;
}

/** The environment of `npm run up` / `npm run down` against this control plane. */
export function installEnv(cp: ControlPlane): NodeJS.ProcessEnv {
  return {
    ...cp.env,
    ...tags,
    NOS_KUBE_CONTEXT: context,
    NOS_RELEASES: releases.join(','),
    NOS_HELMFILE_SKIP_DEPS: '1',
  };
}

export function script(cp: ControlPlane, name: 'up' | 'down'): Promise<Result> {
  return exec('bash', [join(repoRoot, 'scripts', `${name}.sh`)], { env: installEnv(cp) });
}

/**
 * The objects helmfile renders for the selected releases, as helm sends them to the API server: with
 * the ownership annotations helm adds to every object of a release.
 */
export async function rendered(cp: ControlPlane): Promise<{ text: string; objects: K8sObject[] }> {
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
export const warnings = (stderr: string): string[] =>
  stderr.split('\n').filter((line) => /^Warning:|would violate PodSecurity/i.test(line));

export const podSecurityLevels = (): Map<string, string> =>
  new Map(
    parseAllDocuments(readFileSync(join(repoRoot, 'namespaces.yaml'), 'utf8'))
      .map((doc) => doc.toJS() as K8sObject)
      .map((ns) => [
        ns.metadata.name,
        ns.metadata.labels?.['pod-security.kubernetes.io/enforce'] ?? '',
      ]),
  );

export const ready = (pod: Pod): boolean =>
  pod.status.phase === 'Running' &&
  (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/** The pods of a Deployment (by its selector). */
export async function podsOf(cp: ControlPlane, deployment: Deployment): Promise<Pod[]> {
  const selector = Object.entries(deployment.spec.selector.matchLabels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return (await cp.getJson<List<Pod>>(['pods', '-n', namespace, '-l', selector])).items;
}

/** Every Deployment of the namespace rolled out: each replica's pod Running and Ready. */
export async function rolledOut(cp: ControlPlane): Promise<Map<Deployment, Pod[]>> {
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

export async function canI(
  cp: ControlPlane,
  as: string,
  verb: string,
  resource: string,
  ns?: string,
) {
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

/**
 * The otel-agent release's ServiceAccount, ClusterRole (rules: values/otel-agent.yaml) and
 * ClusterRoleBinding, as the collector chart creates them.
 */
export async function grantAgentRole(cp: ControlPlane): Promise<void> {
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
