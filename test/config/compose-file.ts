// docker-compose.yaml parsed for the compose tests, with the pins of versions.env substituted as
// Compose does with `--env-file versions.env`, and helpers to read its services and the configs they mount.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { substitutePins } from '../support/compose-override.ts';
import { readVersionsEnv, repoRoot } from '../support/versions.ts';

export const composePath = join(repoRoot, 'docker-compose.yaml');

export interface Healthcheck {
  test?: string[] | string;
}
export interface Service {
  image?: string;
  build?: { context: string; dockerfile: string; args?: Record<string, string> };
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  healthcheck?: Healthcheck;
  depends_on?: Record<string, { condition: string }>;
  profiles?: string[];
  restart?: string;
  user?: string;
  cap_drop?: string[];
  cap_add?: string[];
  network_mode?: string;
}
export interface ComposeFile {
  name?: string;
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

/** The file as written: image tags are `${KEY:?...}` variables. */
export const composeText = readFileSync(composePath, 'utf8');
export const compose = parse(substitutePins(composeText)) as ComposeFile;
export const services = compose.services;
export const serviceNames = new Set(Object.keys(services));
export const versions = readVersionsEnv();

export function service(name: string): Service {
  const s = services[name];
  assert.ok(s, `docker-compose.yaml has a service ${name}`);
  return s;
}

export function imageTag(name: string): string {
  const image = service(name).image ?? '';
  const match = /^[^:@]+:([^:@]+)$/.exec(image);
  assert.ok(match, `${name}: image "${image}" has an explicit tag`);
  return match[1] as string;
}

export function readYaml(relative: string): Record<string, unknown> | undefined {
  const path = join(repoRoot, relative);
  return existsSync(path)
    ? (parse(readFileSync(path, 'utf8')) as Record<string, unknown>)
    : undefined;
}

export function dig(node: unknown, ...keys: string[]): unknown {
  return keys.reduce<unknown>((n, k) => (n as Record<string, unknown> | undefined)?.[k], node);
}

/** Bind mounts of a service: [source relative to the repository, target, options]. */
export function bindMounts(name: string): { source: string; target: string; readOnly: boolean }[] {
  return (service(name).volumes ?? [])
    .filter((v) => v.startsWith('./'))
    .map((v) => {
      const [source, target, mode] = v.split(':');
      return {
        source: (source as string).slice(2),
        target: target as string,
        readOnly: mode === 'ro',
      };
    });
}

/** Variable names a config file reads: ${NAME}, ${NAME:-default}, ${env:NAME...} (comments skipped). */
export function variablesReadBy(relative: string): Set<string> {
  const text = readFileSync(join(repoRoot, relative), 'utf8')
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .join('\n');
  // `$${...}` is an escaped literal (Grafana provisioning), not a variable.
  return new Set(
    [...text.matchAll(/(?<!\$)\$\{(?:env:)?([A-Z][A-Z0-9_]*)/g)].map((m) => m[1] as string),
  );
}

/** Default of ${NAME:-default} or ${env:NAME:-default} in a config file. */
export function defaultIn(relative: string, variable: string): string | undefined {
  const text = readFileSync(join(repoRoot, relative), 'utf8');
  return new RegExp(`\\$\\{(?:env:)?${variable}:-([^}]*)\\}`).exec(text)?.[1];
}

export function portOf(address: string): string {
  const match = /:(\d+)(?:\/.*)?$/.exec(address);
  assert.ok(match, `"${address}" has a port`);
  return match[1] as string;
}
