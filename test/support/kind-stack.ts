// The kind stack as declared in the repository: helmfile.yaml, the plain values files in values/ and
// kind-config.yaml, parsed (no helm, no cluster). Used by the helmfile and kind policy tests; the image
// tags are not in the plain values files (values/versions.yaml.gotmpl renders them from versions.env).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from './versions.ts';

export type Yaml = Record<string, unknown>;

export interface Release {
  name: string;
  namespace: string;
  chart: string;
  version?: string;
  needs?: string[];
  values?: string[];
  disableValidationOnInstall?: boolean;
  hooks?: unknown[];
}

export interface Helmfile {
  repositories: { name: string; url: string }[];
  helmDefaults: Yaml;
  releases: Release[];
}

export function readYaml<T = Yaml>(relativePath: string): T {
  return parse(readFileSync(join(repoRoot, relativePath), 'utf8')) as T;
}

export function readHelmfile(): Helmfile {
  return readYaml<Helmfile>('helmfile.yaml');
}

/** `a.b.c` lookup in parsed YAML; undefined when any step is missing. */
export function at(object: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => {
    if (node === null || typeof node !== 'object') return undefined;
    return (node as Yaml)[key];
  }, object);
}

/** The plain (non-template) values files of a release, parsed, in helmfile order. */
export function releaseValues(release: Release): Yaml[] {
  return (release.values ?? [])
    .filter((file) => !file.endsWith('.gotmpl'))
    .map((file) => readYaml(file));
}

/** First value found at `path` in the release's plain values files, last file winning (as helm merges). */
export function releaseValue(release: Release, path: string): unknown {
  let found: unknown;
  for (const values of releaseValues(release)) {
    const value = at(values, path);
    if (value !== undefined) found = value;
  }
  return found;
}

/** One entry of a chart's `extraEnvs` (a container's env): a value or a downward API field. */
export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}

/** The release's `extraEnvs` by name (the opentelemetry-collector chart's key). */
export function releaseEnvs(release: Release): Map<string, EnvVar> {
  const envs = (releaseValue(release, 'extraEnvs') ?? []) as EnvVar[];
  return new Map(envs.map((e) => [e.name, e]));
}

export function release(helmfile: Helmfile, name: string): Release {
  const found = helmfile.releases.find((r) => r.name === name);
  if (!found) throw new Error(`helmfile.yaml has no release ${name}`);
  return found;
}

export interface PortMapping {
  containerPort: number;
  hostPort: number;
  listenAddress?: string;
  protocol?: string;
}

export function kindPortMappings(): PortMapping[] {
  const kind = readYaml('kind-config.yaml');
  const nodes = (kind.nodes ?? []) as Yaml[];
  return nodes.flatMap((node) => (node.extraPortMappings ?? []) as PortMapping[]);
}

/** Kubernetes quantity -> number (CPU in cores, memory in bytes). */
export function parseQuantity(quantity: string | number): number {
  if (typeof quantity === 'number') return quantity;
  const match = /^([0-9.]+)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(quantity);
  if (!match) throw new Error(`not a Kubernetes quantity: ${quantity}`);
  const factors: Record<string, number> = {
    '': 1,
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
  };
  return Number(match[1]) * (factors[match[2] ?? ''] as number);
}
