// The kind stack's helmfile.yaml and values for the helmfile tests: the releases, and helpers to
// read their values, environment, ports, volumes and in-cluster addresses.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  readHelmfile,
  release,
  releaseEnvs,
  releaseValue,
  type EnvVar,
  type Release,
  type Yaml,
} from '../support/kind-stack.ts';
import { promisify } from 'node:util';
import { readVersionsEnv, repoRoot } from '../support/versions.ts';

export const run = promisify(execFile);
export const helmfile = readHelmfile();
export const versions = readVersionsEnv();
export const read = (path: string) => readFileSync(join(repoRoot, path), 'utf8');

export const kps = release(helmfile, 'kube-prometheus-stack');
// The collector's two tiers: the gateways (Deployment) and the agents (DaemonSet, one per node).
export const gateway = release(helmfile, 'otel-gateway');
export const agent = release(helmfile, 'otel-agent');
export const services = [release(helmfile, 'api-gateway'), release(helmfile, 'user-service')];

/** Collector config merge, as the collector does it for several --config: maps merge, lists replace. */
export function mergeCollectorConfig(base: unknown, overlay: unknown): unknown {
  if (
    base !== null &&
    overlay !== null &&
    typeof base === 'object' &&
    typeof overlay === 'object' &&
    !Array.isArray(base) &&
    !Array.isArray(overlay)
  ) {
    const merged: Yaml = { ...(base as Yaml) };
    for (const [key, value] of Object.entries(overlay as Yaml)) {
      merged[key] = key in merged ? mergeCollectorConfig(merged[key], value) : value;
    }
    return merged;
  }
  return overlay === undefined ? base : overlay;
}

/** Every string value in parsed YAML (comments are not values). */
export function strings(node: unknown): string[] {
  if (typeof node === 'string') return [node];
  if (node !== null && typeof node === 'object') return Object.values(node).flatMap(strings);
  return [];
}

/** The plain value of an env var of a collector release ('' when it is unset or not a plain value). */
export function envValue(r: Release, name: string): string {
  return releaseEnvs(r).get(name)?.value ?? '';
}

/** The downward API field an env var of a collector release comes from. */
export function envField(r: Release, name: string): string | undefined {
  return (releaseEnvs(r).get(name) as EnvVar | undefined)?.valueFrom?.fieldRef?.fieldPath;
}

/** `${env:NAME...}` placeholders in parsed collector config. */
export function envPlaceholders(config: unknown): Set<string> {
  return new Set(
    strings(config).flatMap((v) =>
      [...v.matchAll(/\$\{env:([A-Z_][A-Z0-9_]*)/g)].map((m) => m[1] as string),
    ),
  );
}

/** The chart ports a collector release opens (sorted names). */
export function openPorts(r: Release): string[] {
  const ports = (releaseValue(r, 'ports') ?? {}) as Record<string, { enabled: boolean }>;
  return Object.entries(ports)
    .filter(([, p]) => p.enabled)
    .map(([name]) => name)
    .sort();
}

export const volumes = (r: Release) => (releaseValue(r, 'extraVolumes') ?? []) as Yaml[];
export const mounts = (r: Release) =>
  (releaseValue(r, 'extraVolumeMounts') ?? []) as {
    name: string;
    mountPath: string;
    readOnly?: boolean;
  }[];

/** The Service a collector release creates: <fullnameOverride>.<namespace>. */
export function collectorService(r: Release): { service: string; namespace: string } {
  return { service: String(releaseValue(r, 'fullnameOverride')), namespace: r.namespace };
}

/** http://<service>.<namespace>.svc.cluster.local:<port> -> its parts. */
export function clusterUrl(url: string): { service: string; namespace: string; port: number } {
  const parsed = new URL(url.includes('://') ? url : `grpc://${url}`);
  const [service, namespace, svc] = parsed.hostname.split('.');
  assert.equal(svc, 'svc', `${url} is an in-cluster Service address`);
  return { service: service as string, namespace: namespace as string, port: Number(parsed.port) };
}

/** The values of a release in `helmfile build --embed-values` output, merged in order (maps deep). */
export function releaseValuesMerged(
  state: { releases: (Release & { values: Yaml[] })[] },
  name: string,
): Yaml {
  const found = state.releases.find((r) => r.name === name);
  assert.ok(found, `release ${name} in helmfile build`);
  return found.values.reduce<Yaml>((all, values) => mergeCollectorConfig(all, values) as Yaml, {});
}
