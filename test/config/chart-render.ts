// helm for the chart tests: `helm template` of chart/ with values files, and the rendered objects'
// pod spec, container and environment. Needs helm (scripts/install-tools.sh helm).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { parseAllDocuments, stringify } from 'yaml';
import { requireTool } from '../support/tools.ts';
import { repoRoot } from '../support/versions.ts';

export const run = promisify(execFile);
export const chartDir = join(repoRoot, 'chart');

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  [key: string]: unknown;
};
export type Container = {
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
export type PodSpec = {
  securityContext: Record<string, unknown> & { seccompProfile: { type: string } };
  terminationGracePeriodSeconds: number;
  automountServiceAccountToken: boolean;
  serviceAccountName: string;
  containers: Container[];
  volumes: { name: string; emptyDir?: Record<string, unknown> }[];
};

export interface HelmRun {
  helm: string;
  tmp: string;
}

/** A values file in a temporary directory, for -f. */
export function valuesFile(ctx: HelmRun, name: string, values: unknown): string {
  const file = join(ctx.tmp, `${name}.yaml`);
  writeFileSync(file, stringify(values));
  return file;
}

export async function template(
  ctx: HelmRun,
  release: string,
  args: string[] = [],
): Promise<K8sObject[]> {
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
export async function templateFails(ctx: HelmRun, args: string[]): Promise<string> {
  try {
    await run(ctx.helm, ['template', 'x', chartDir, ...args]);
  } catch (error) {
    const { stderr } = error as { stderr?: string };
    return String(stderr ?? error);
  }
  assert.fail(`helm template ${args.join(' ')} succeeded; the schema should have rejected it`);
}

export function find(objects: K8sObject[], kind: string): K8sObject {
  const found = objects.find((o) => o.kind === kind);
  assert.ok(found, `no ${kind} rendered (got ${objects.map((o) => o.kind).join(', ')})`);
  return found;
}

export function podSpec(objects: K8sObject[]): PodSpec {
  const deployment = find(objects, 'Deployment');
  return (deployment.spec as { template: { spec: PodSpec } }).template.spec;
}

export function container(objects: K8sObject[]): Container {
  const containers = podSpec(objects).containers;
  assert.equal(containers.length, 1);
  return containers[0] as Container;
}

export function envValue(c: Container, name: string): string | undefined {
  return c.env.find((e) => e.name === name)?.value;
}

/** Skips (outside CI) or fails (CI) without helm; otherwise a fresh temp dir and the helm path. */
export function setup(t: TestContext): HelmRun | undefined {
  const helm = requireTool('helm', t);
  if (!helm) return undefined;
  const tmp = mkdtempSync(join(tmpdir(), 'nos-chart-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  return { helm, tmp };
}
