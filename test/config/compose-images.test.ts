// docker-compose.yaml's images and its validation by the real Compose implementation
// (`docker-compose config`, built by scripts/install-tools.sh from github.com/docker/compose/v5; it needs
// no Docker engine): every image is a variable whose value is versions.env's pin, the services are
// built from their Dockerfiles, and the collector image is the release of the builder manifest.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { requireTool } from '../support/tools.ts';
import { pinnedVersion, repoRoot } from '../support/versions.ts';
import {
  composePath,
  composeText,
  dig,
  imageTag,
  readYaml,
  service,
  serviceNames,
  services,
  versions,
  type ComposeFile,
} from './compose-file.ts';

/** The image of every service that is not built, from versions.env. */
const expected: Record<string, string> = {
  'otel-agent': `otel/opentelemetry-collector-contrib:${pinnedVersion('OTELCOL_VERSION', versions)}`,
  'otel-gateway': `otel/opentelemetry-collector-contrib:${pinnedVersion('OTELCOL_VERSION', versions)}`,
  'otel-queue-volumes': pinnedVersion('NODE_IMAGE', versions),
  prometheus: `prom/prometheus:v${pinnedVersion('PROMETHEUS_VERSION', versions)}`,
  loki: `grafana/loki:${pinnedVersion('LOKI_VERSION', versions)}`,
  tempo: `grafana/tempo:${pinnedVersion('TEMPO_VERSION', versions)}`,
  grafana: `grafana/grafana:${pinnedVersion('GRAFANA_VERSION', versions)}`,
};
describe('docker-compose.yaml: images', () => {
  test('every image is pinned to the version in versions.env', () => {
    for (const [name, image] of Object.entries(expected))
      assert.equal(service(name).image, image, name);
    for (const [name, s] of Object.entries(services)) {
      if (s.build) continue;
      assert.ok(s.image && name in expected, `${name}: an image from versions.env or a build`);
      assert.doesNotMatch(imageTag(name), /^latest$/);
    }
  });

  test('the file names each pin as a required variable, never its value', () => {
    const images = [...composeText.matchAll(/^\s+image: (.+)$/gm)].map((m) => m[1] as string);
    assert.equal(images.length, Object.keys(expected).length);
    for (const image of images)
      assert.match(image, /\$\{[A-Z][A-Z0-9_]*:\?[^}]+\}$/, `${image}: a required variable`);
    for (const [key, value] of versions)
      assert.ok(
        !composeText.includes(value),
        `${key}'s value ${value} is not copied into the file`,
      );
  });

  test('the services are built from services/Dockerfile with the repository root as context', () => {
    const nodeImage = pinnedVersion('NODE_IMAGE', versions);
    for (const name of ['api-gateway', 'user-service']) {
      assert.deepEqual(
        service(name).build,
        {
          context: '.',
          dockerfile: 'services/Dockerfile',
          args: { SERVICE: name, NODE_IMAGE: nodeImage },
        },
        name,
      );
    }
    // The traffic generator has its own entrypoint and environment, and no runtime dependencies.
    assert.deepEqual(service('traffic-generator').build, {
      context: '.',
      dockerfile: 'services/traffic-generator/Dockerfile',
      args: { NODE_IMAGE: nodeImage },
    });
    for (const s of Object.values(services)) {
      if (s.build) assert.ok(existsSync(join(repoRoot, s.build.dockerfile)), s.build.dockerfile);
    }
  });

  test('the collector image is the release of the builder manifest (collector/builder-config.yaml)', () => {
    const manifest = readYaml('collector/builder-config.yaml');
    assert.ok(manifest, 'collector/builder-config.yaml exists');
    assert.equal(dig(manifest, 'dist', 'version'), imageTag('otel-gateway'));
    const gomods = ['receivers', 'processors', 'exporters', 'connectors', 'extensions']
      .flatMap((kind) => (dig(manifest, kind) as { gomod: string }[] | undefined) ?? [])
      .map((c) => c.gomod);
    for (const gomod of gomods.filter((g) => /opentelemetry-collector-contrib\//.test(g))) {
      assert.ok(
        gomod.endsWith(` v${imageTag('otel-gateway')}`),
        `${gomod}: same release as the image`,
      );
    }
  });

  test('the kind stack takes the same image tags from versions.env (values/versions.yaml.gotmpl)', () => {
    const template = readFileSync(join(repoRoot, 'values/versions.yaml.gotmpl'), 'utf8');
    assert.match(template, /readFile "\.\.\/versions\.env"/);
    for (const key of [
      'PROMETHEUS_VERSION',
      'GRAFANA_VERSION',
      'LOKI_VERSION',
      'TEMPO_VERSION',
      'OTELCOL_VERSION',
    ])
      assert.ok(template.includes(`$pin.${key}`), `the kind stack's ${key}`);
    // The plain values files carry no tag that could disagree.
    const tags: [string, string[]][] = [
      ['values/kube-prometheus-stack.yaml', ['prometheus', 'prometheusSpec', 'image', 'tag']],
      ['values/kube-prometheus-stack.yaml', ['grafana', 'image', 'tag']],
      ['values/loki.yaml', ['loki', 'image', 'tag']],
      ['values/tempo.yaml', ['tempo', 'tag']],
      ['values/otel-agent.yaml', ['image', 'tag']],
      ['values/otel-gateway.yaml', ['image', 'tag']],
    ];
    for (const [file, path] of tags)
      assert.equal(dig(readYaml(file), ...path), undefined, `${file}: ${path.join('.')}`);
  });
});

describe('docker-compose.yaml: validated by the Compose CLI (docker-compose config)', () => {
  // Only PATH and HOME from the environment, and versions.env in place of .env: the result must not
  // depend on the developer's shell (COMPOSE_PROFILES, a GRAFANA_ADMIN_PASSWORD in .env, ...).
  const run = (
    bin: string,
    args: string[],
    env: Record<string, string> = {},
    envFile = join(repoRoot, 'versions.env'),
  ) =>
    spawnSync(bin, ['--env-file', envFile, '-f', composePath, ...args], {
      cwd: repoRoot,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    });

  test('the file is valid for Compose, with and without the traffic profile', (t) => {
    const bin = requireTool('docker-compose', t);
    if (!bin) return;
    const env = { GRAFANA_ADMIN_PASSWORD: 'only-for-the-config-test' };
    for (const profile of [[], ['--profile', 'traffic']]) {
      const result = run(bin, [...profile, 'config', '--format', 'json'], env);
      assert.equal(
        result.status,
        0,
        `docker-compose ${profile.join(' ')} config:\n${result.stderr}`,
      );
      const model = JSON.parse(result.stdout) as ComposeFile;
      const expected = [...serviceNames]
        .filter((n) => profile.length > 0 || !services[n]?.profiles)
        .sort();
      assert.deepEqual(Object.keys(model.services).sort(), expected);
      assert.equal(model.name, 'node-observability-stack');
    }
  });

  test('without GRAFANA_ADMIN_PASSWORD, Compose refuses the file and says what to set', (t) => {
    const bin = requireTool('docker-compose', t);
    if (!bin) return;
    const result = run(bin, ['config', '--quiet']);
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /GRAFANA_ADMIN_PASSWORD/);
  });

  test('without the pins of versions.env, Compose refuses the file and says how to give them', (t) => {
    const bin = requireTool('docker-compose', t);
    if (!bin) return;
    const env = { GRAFANA_ADMIN_PASSWORD: 'only-for-the-config-test' };
    const result = run(bin, ['config', '--quiet'], env, '/dev/null');
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /_VERSION|NODE_IMAGE/);
    assert.match(result.stderr, /scripts\/compose-up\.sh or use --env-file versions\.env/);
  });

  test('the resolved model runs exactly the images of versions.env', (t) => {
    const bin = requireTool('docker-compose', t);
    if (!bin) return;
    const env = { GRAFANA_ADMIN_PASSWORD: 'only-for-the-config-test' };
    const result = run(bin, ['--profile', 'traffic', 'config', '--format', 'json'], env);
    assert.equal(result.status, 0, result.stderr);
    const model = JSON.parse(result.stdout) as ComposeFile;
    for (const [name, image] of Object.entries(expected))
      assert.equal(model.services[name]?.image, image, name);
    for (const name of ['api-gateway', 'user-service', 'traffic-generator'])
      assert.equal(
        model.services[name]?.build?.args?.NODE_IMAGE,
        pinnedVersion('NODE_IMAGE', versions),
      );
  });
});
