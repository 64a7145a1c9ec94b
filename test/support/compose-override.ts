// The test-only override of docker-compose.yaml for machines that reach no image registry (CI). It is
// derived from the base file by rules on image names, not service names, so that every service of a
// kind gets the same treatment, however many the base file has:
//   (a) images that cannot be pulled here become the local builds of scripts/build-images.sh, at the
//       same version: otel/opentelemetry-collector-contrib:<v> -> nos-ci/otelcol-contrib:<v>,
//       prom/prometheus:<v> -> nos-ci/prometheus:<v>, node:<NODE_IMAGE tag> -> the local Node base,
//       and the services' Dockerfiles get that base through their NODE_IMAGE build argument;
//   (b) Grafana, Loki and Tempo (AGPL: never built or run here) become recording stand-ins at the same
//       service name, ports, volumes and environment: a collector with test/compose/<name>.yaml that
//       receives what the real one would and writes it to a directory the test reads.
// Nothing else changes; test/config/compose-override.test.ts proves it with `docker-compose config`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { pinnedVersion, readVersionsEnv, repoRoot } from './versions.ts';

export const composeFile = join(repoRoot, 'docker-compose.yaml');
export const standInDir = join(repoRoot, 'test', 'compose');

/** Where a stand-in's config and the recording directory are mounted inside its container. */
export const STANDIN_CONFIG_TARGET = '/standin/config.yaml';
export const RECORDS_TARGET = '/records';

/** Local images of scripts/build-images.sh. */
export const localImages = {
  node: (): string => `nos-ci/node:${pinnedVersion('NODE_VERSION')}-trixie`,
  recorder: (): string => `nos-ci/otelcol-recorder:${pinnedVersion('OTELCOL_VERSION')}`,
};

/** (a): official repository -> local image, given the official tag. */
export const localImageOf: Readonly<Record<string, (tag: string) => string>> = {
  'otel/opentelemetry-collector-contrib': (tag) => `nos-ci/otelcol-contrib:${tag}`,
  'prom/prometheus': (tag) => `nos-ci/prometheus:${tag}`,
  // Only the pinned NODE_IMAGE has a local equivalent (same Node version, Debian trixie).
  node: (tag) => {
    if (`node:${tag}` !== pinnedVersion('NODE_IMAGE'))
      throw new Error(`node:${tag} is not NODE_IMAGE of versions.env`);
    return localImages.node();
  },
};

/** (b): official repository -> stand-in config (test/compose/<name>.yaml). */
export const standInOf: Readonly<Record<string, string>> = {
  'grafana/loki': 'loki',
  'grafana/tempo': 'tempo',
  'grafana/grafana': 'grafana',
};

interface BaseService {
  image?: string;
  build?: unknown;
}

export function splitImage(image: string): { repository: string; tag: string } {
  const match = /^([^@]+):([^:/@]+)$/.exec(image);
  if (!match) throw new Error(`image "${image}" has no explicit tag`);
  return { repository: match[1] as string, tag: match[2] as string };
}

/** The health_check extension of a stand-in config: the URL its healthcheck asks. */
export function standInHealthUrl(name: string): string {
  const config = parse(readFileSync(join(standInDir, `${name}.yaml`), 'utf8')) as {
    extensions?: { health_check?: { endpoint?: string; path?: string } };
  };
  const health = config.extensions?.health_check;
  const port = /:(\d+)$/.exec(health?.endpoint ?? '')?.[1];
  if (!port || !health?.path)
    throw new Error(`test/compose/${name}.yaml: health_check endpoint and path`);
  return `http://127.0.0.1:${port}${health.path}`;
}

export interface Override {
  services: Record<string, Record<string, unknown>>;
}

/** The override for the base file's services (parsed docker-compose.yaml), recording into recordsDir. */
export function composeOverride(recordsDir: string, base = readBaseServices()): Override {
  const services: Override['services'] = {};
  for (const [name, service] of Object.entries(base)) {
    if (service.build !== undefined) {
      services[name] = { build: { args: { NODE_IMAGE: localImages.node() } } };
      continue;
    }
    if (!service.image) throw new Error(`service ${name} has neither build nor image`);
    const { repository, tag } = splitImage(service.image);
    const local = localImageOf[repository];
    const standIn = standInOf[repository];
    if (local) {
      services[name] = { image: local(tag) };
    } else if (standIn) {
      services[name] = {
        image: localImages.recorder(),
        command: [`--config=${STANDIN_CONFIG_TARGET}`],
        volumes: [
          {
            type: 'bind',
            source: join(standInDir, `${standIn}.yaml`),
            target: STANDIN_CONFIG_TARGET,
            read_only: true,
          },
          { type: 'bind', source: recordsDir, target: RECORDS_TARGET },
        ],
        healthcheck: {
          test: ['CMD', '/bin/busybox', 'wget', '-q', '-O', '/dev/null', standInHealthUrl(standIn)],
        },
      };
    } else {
      throw new Error(
        `service ${name}: no local image or stand-in for ${repository} (add one to test/support/compose-override.ts)`,
      );
    }
  }
  return { services };
}

/**
 * docker-compose.yaml's text with the `${KEY:?...}` / `${KEY:-...}` / `${KEY}` of versions.env's keys
 * substituted, as Compose does with `--env-file versions.env`; other variables stay as written.
 */
export function substitutePins(text: string, versions = readVersionsEnv()): string {
  return text.replace(
    /\$\{([A-Z][A-Z0-9_]*)(?::?[-?][^}]*)?\}/g,
    (whole, key: string) => versions.get(key) ?? whole,
  );
}

export function readBaseServices(): Record<string, BaseService> {
  const text = substitutePins(readFileSync(composeFile, 'utf8'));
  return (parse(text) as { services: Record<string, BaseService> }).services;
}

export function overrideYaml(recordsDir: string): string {
  return `# Generated by test/support/compose-override.ts\n${stringify(composeOverride(recordsDir))}`;
}

// By hand: `scripts/with-node.sh node test/support/compose-override.ts RECORDS_DIR > override.yaml`,
// then `docker-compose -f docker-compose.yaml -f override.yaml up -d` (after scripts/build-images.sh).
if (import.meta.filename === process.argv[1]) {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: node test/support/compose-override.ts RECORDS_DIR');
    process.exit(2);
  }
  process.stdout.write(overrideYaml(dir));
}
