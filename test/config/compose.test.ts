// docker-compose.yaml: validated by the real Compose implementation (`docker-compose config`, built by
// scripts/install-tools.sh from github.com/docker/compose/v5; it needs no Docker engine), and checked for
// consistency with the rest of the repository: pinned images = versions.env = helmfile values = the
// collector builder manifest, mounted files exist, every address names a compose service on a port it
// listens on, environment variables are ones the mounted configs read, and Grafana provisions the same
// files as the kind stack.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { requireTool } from '../support/tools.ts';
import { pinnedVersion, readVersionsEnv, repoRoot } from '../support/versions.ts';

const composePath = join(repoRoot, 'docker-compose.yaml');

interface Healthcheck {
  test?: string[] | string;
}
interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
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
interface ComposeFile {
  name?: string;
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const compose = parse(readFileSync(composePath, 'utf8')) as ComposeFile;
const services = compose.services;
const serviceNames = new Set(Object.keys(services));
const versions = readVersionsEnv();

function service(name: string): Service {
  const s = services[name];
  assert.ok(s, `docker-compose.yaml has a service ${name}`);
  return s;
}

function imageTag(name: string): string {
  const image = service(name).image ?? '';
  const match = /^[^:@]+:([^:@]+)$/.exec(image);
  assert.ok(match, `${name}: image "${image}" has an explicit tag`);
  return match[1] as string;
}

function readYaml(relative: string): Record<string, unknown> | undefined {
  const path = join(repoRoot, relative);
  return existsSync(path)
    ? (parse(readFileSync(path, 'utf8')) as Record<string, unknown>)
    : undefined;
}

function dig(node: unknown, ...keys: string[]): unknown {
  return keys.reduce<unknown>((n, k) => (n as Record<string, unknown> | undefined)?.[k], node);
}

/** Bind mounts of a service: [source relative to the repository, target, options]. */
function bindMounts(name: string): { source: string; target: string; readOnly: boolean }[] {
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
function variablesReadBy(relative: string): Set<string> {
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
function defaultIn(relative: string, variable: string): string | undefined {
  const text = readFileSync(join(repoRoot, relative), 'utf8');
  return new RegExp(`\\$\\{(?:env:)?${variable}:-([^}]*)\\}`).exec(text)?.[1];
}

function portOf(address: string): string {
  const match = /:(\d+)(?:\/.*)?$/.exec(address);
  assert.ok(match, `"${address}" has a port`);
  return match[1] as string;
}

describe('docker-compose.yaml: images', () => {
  const expected: Record<string, string> = {
    'otel-agent': `otel/opentelemetry-collector-contrib:${pinnedVersion('OTELCOL_VERSION', versions)}`,
    'otel-gateway': `otel/opentelemetry-collector-contrib:${pinnedVersion('OTELCOL_VERSION', versions)}`,
    'otel-queue-volumes': pinnedVersion('NODE_IMAGE', versions),
    prometheus: `prom/prometheus:v${pinnedVersion('PROMETHEUS_VERSION', versions)}`,
    loki: `grafana/loki:${pinnedVersion('LOKI_VERSION', versions)}`,
    tempo: `grafana/tempo:${pinnedVersion('TEMPO_VERSION', versions)}`,
    grafana: `grafana/grafana:${pinnedVersion('GRAFANA_VERSION', versions)}`,
  };

  test('every image is pinned to the version in versions.env', () => {
    for (const [name, image] of Object.entries(expected))
      assert.equal(service(name).image, image, name);
    for (const [name, s] of Object.entries(services)) {
      if (s.build) continue;
      assert.ok(s.image && name in expected, `${name}: an image from versions.env or a build`);
      assert.doesNotMatch(imageTag(name), /^latest$/);
    }
  });

  test('the services are built from their Dockerfiles with the repository root as context', () => {
    for (const name of ['api-gateway', 'user-service', 'traffic-generator']) {
      const { build } = service(name);
      assert.deepEqual(build, { context: '.', dockerfile: `services/${name}/Dockerfile` }, name);
      assert.ok(existsSync(join(repoRoot, build.dockerfile)), `${build.dockerfile} exists`);
      // The images' base (node:<NODE_VERSION>-...) is pinned like every other image.
      // Their FROM lines take the NODE_IMAGE build argument, whose default is the pinned image.
      const bases = [
        ...readFileSync(join(repoRoot, build.dockerfile), 'utf8').matchAll(
          /^ARG\s+NODE_IMAGE=(\S+)/gm,
        ),
      ].map((m) => m[1] as string);
      assert.ok(bases.length > 0, `${build.dockerfile} has FROM lines`);
      for (const base of bases) {
        assert.match(
          base,
          new RegExp(`^node:${pinnedVersion('NODE_VERSION', versions).replaceAll('.', '\\.')}-`),
          base,
        );
      }
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

  test('the kind stack (helmfile values) runs the same versions', () => {
    const kps = readYaml('values/kube-prometheus-stack.yaml');
    assert.ok(kps, 'values/kube-prometheus-stack.yaml must exist');
    const pairs: [string, unknown, string][] = [
      [
        'prometheus',
        dig(kps, 'prometheus', 'prometheusSpec', 'image', 'tag'),
        imageTag('prometheus'),
      ],
      ['grafana', dig(kps, 'grafana', 'image', 'tag'), imageTag('grafana')],
      ['loki', dig(readYaml('values/loki.yaml'), 'loki', 'image', 'tag'), imageTag('loki')],
      ['tempo', dig(readYaml('values/tempo.yaml'), 'tempo', 'tag'), imageTag('tempo')],
      [
        'otel-agent',
        dig(readYaml('values/otel-agent.yaml'), 'image', 'tag'),
        imageTag('otel-agent'),
      ],
      [
        'otel-gateway',
        dig(readYaml('values/otel-gateway.yaml'), 'image', 'tag'),
        imageTag('otel-gateway'),
      ],
    ];
    const mismatches = pairs.filter(([, kind, composeTag]) => String(kind) !== composeTag);
    assert.deepEqual(
      mismatches.map(
        ([name, kind, composeTag]) =>
          `${name}: helmfile values ${String(kind)}, compose ${composeTag}`,
      ),
      [],
    );
  });
});

describe('docker-compose.yaml: files, addresses and environment', () => {
  test('every bind-mounted file or directory exists in the repository and is mounted read-only', () => {
    for (const name of serviceNames) {
      for (const mount of bindMounts(name)) {
        assert.ok(existsSync(join(repoRoot, mount.source)), `${name}: ./${mount.source} exists`);
        assert.ok(mount.readOnly, `${name}: ./${mount.source} is mounted :ro`);
      }
    }
  });

  test('the backends and the collectors use the shared configs (no compose-only copies)', () => {
    const mounted = (name: string) => bindMounts(name).map((m) => m.source);
    assert.deepEqual(mounted('otel-agent'), ['collector/agent.yaml']);
    assert.deepEqual(mounted('otel-gateway'), ['collector/gateway.yaml']);
    assert.deepEqual(mounted('prometheus'), ['backends/prometheus.yaml']);
    assert.deepEqual(mounted('loki'), ['backends/loki.yaml']);
    assert.deepEqual(mounted('tempo'), ['backends/tempo.yaml']);
    // The config files are the ones the processes are started with.
    const configFlag = (name: string) =>
      (service(name).command ?? [])
        .find((arg) => /^-{1,2}config(\.file)?=/.test(arg))
        ?.split('=')[1];
    for (const name of ['otel-agent', 'otel-gateway', 'prometheus', 'loki', 'tempo']) {
      const targets = bindMounts(name).map((m) => m.target);
      assert.ok(
        targets.includes(configFlag(name) ?? ''),
        `${name}: started with the mounted config`,
      );
    }
    // Loki and Tempo only read ${VAR} from their configs with -config.expand-env=true.
    for (const name of ['loki', 'tempo']) {
      assert.ok(
        service(name).command?.includes('-config.expand-env=true'),
        `${name}: -config.expand-env=true`,
      );
    }
  });

  test('environment variables set for a config are ones that config reads', () => {
    const readers: Record<string, string> = {
      'otel-agent': 'collector/agent.yaml',
      'otel-gateway': 'collector/gateway.yaml',
      loki: 'backends/loki.yaml',
      tempo: 'backends/tempo.yaml',
      grafana: 'grafana/provisioning/datasources/datasources.yaml',
    };
    for (const [name, config] of Object.entries(readers)) {
      const read = variablesReadBy(config);
      const set = Object.keys(service(name).environment ?? {}).filter((v) => !v.startsWith('GF_'));
      for (const variable of set)
        assert.ok(read.has(variable), `${name}: ${config} reads ${variable}`);
    }
    // Grafana's data source URLs are all set.
    for (const variable of variablesReadBy(readers.grafana as string)) {
      assert.ok(service('grafana').environment?.[variable], `grafana: ${variable} is set`);
    }
  });

  test('every address in the environment or command names a compose service', () => {
    const addresses: { where: string; host: string; port: string }[] = [];
    for (const [name, s] of Object.entries(services)) {
      const values = [
        ...Object.entries(s.environment ?? {}).map(([k, v]) => [k, String(v)]),
        ...(s.command ?? []).map((c) => ['command', c]),
      ];
      for (const [key, value] of values) {
        const match = /^(?:https?:\/\/)?([a-z][a-z0-9.-]*):(\d+)(?:\/.*)?$/.exec(value as string);
        if (!match) continue;
        addresses.push({
          where: `${name} ${key}=${value}`,
          host: match[1] as string,
          port: match[2] as string,
        });
      }
    }
    assert.ok(addresses.length >= 8, 'the services, collector and Grafana are wired by address');
    for (const { where, host } of addresses) {
      assert.ok(
        serviceNames.has(host) || ['0.0.0.0', '127.0.0.1', 'localhost'].includes(host),
        `${where}: ${host} is a compose service`,
      );
    }
  });

  test('each address uses the port its target listens on', () => {
    const agent = service('otel-agent').environment ?? {};
    const collector = service('otel-gateway').environment ?? {};
    const listens = {
      agentGrpc: portOf(agent.OTELCOL_OTLP_GRPC_ENDPOINT ?? ''),
      gatewayGrpc: portOf(collector.OTELCOL_OTLP_GRPC_ENDPOINT ?? ''),
      tempoOtlp: portOf(service('tempo').environment?.TEMPO_OTLP_GRPC_LISTEN ?? ''),
      tempoHttp: defaultIn('backends/tempo.yaml', 'TEMPO_HTTP_PORT'),
      lokiHttp: defaultIn('backends/loki.yaml', 'LOKI_HTTP_PORT'),
      userService: service('user-service').environment?.PORT,
      gateway: service('api-gateway').environment?.PORT,
    };
    assert.equal(portOf(collector.TEMPO_OTLP_GRPC_ENDPOINT ?? ''), listens.tempoOtlp);
    assert.equal(portOf(collector.LOKI_URL ?? ''), listens.lokiHttp);
    assert.equal(portOf(collector.PROMETHEUS_URL ?? ''), '9090');
    assert.equal(portOf(agent.PROMETHEUS_URL ?? ''), '9090');
    // The agent's load balancer resolves the gateway's service name (every replica) on its port.
    assert.equal(agent.OTELCOL_GATEWAY_HOSTNAME, 'otel-gateway');
    assert.equal(agent.OTELCOL_GATEWAY_PORT, listens.gatewayGrpc);
    for (const name of ['api-gateway', 'user-service']) {
      assert.equal(
        portOf(service(name).environment?.OTEL_EXPORTER_OTLP_ENDPOINT ?? ''),
        listens.agentGrpc,
      );
      assert.match(
        service(name).environment?.OTEL_EXPORTER_OTLP_ENDPOINT ?? '',
        /^http:\/\/otel-agent:/,
      );
    }
    assert.equal(
      portOf(service('api-gateway').environment?.USER_SERVICE_URL ?? ''),
      listens.userService,
    );
    // The public edge records every request; user-service follows it (ParentBased, the default).
    assert.equal(service('api-gateway').environment?.OTEL_TRACES_SAMPLER, 'always_on');
    assert.equal(service('user-service').environment?.OTEL_TRACES_SAMPLER, undefined);
    const grafana = service('grafana').environment ?? {};
    assert.equal(grafana.PROMETHEUS_URL, 'http://prometheus:9090');
    assert.equal(grafana.LOKI_URL, `http://loki:${listens.lokiHttp}`);
    assert.equal(grafana.TEMPO_URL, `http://tempo:${listens.tempoHttp}`);
    const traffic = service('traffic-generator').environment ?? {};
    assert.equal(traffic.GATEWAY_URL, `http://api-gateway:${listens.gateway}`);
    assert.equal(traffic.USER_SERVICE_URL, `http://user-service:${listens.userService}`);
  });

  test('services listen on every interface of their container (the configs default to 127.0.0.1)', () => {
    for (const name of ['otel-agent', 'otel-gateway']) {
      assert.match(
        service(name).environment?.OTELCOL_OTLP_GRPC_ENDPOINT ?? '',
        /^0\.0\.0\.0:/,
        name,
      );
    }
    // Only the agent takes OTLP over HTTP (from the services); the gateway hears only agents.
    assert.match(
      service('otel-agent').environment?.OTELCOL_OTLP_HTTP_ENDPOINT ?? '',
      /^0\.0\.0\.0:/,
    );
    assert.equal(service('loki').environment?.LOKI_LISTEN_ADDRESS, '0.0.0.0');
    assert.equal(service('tempo').environment?.TEMPO_LISTEN_ADDRESS, '0.0.0.0');
  });

  test('host ports: Grafana 3000, Prometheus 9090, api-gateway 8080, on 127.0.0.1 only', () => {
    const published = Object.entries(services).flatMap(([name, s]) =>
      (s.ports ?? []).map((p) => [name, p]),
    );
    for (const [name, port] of [
      ['grafana', '127.0.0.1:3000:3000'],
      ['prometheus', '127.0.0.1:9090:9090'],
      ['api-gateway', '127.0.0.1:8080:8080'],
    ]) {
      assert.ok(
        published.some(([n, p]) => n === name && p === port),
        `${name} publishes ${port}`,
      );
    }
    for (const [name, port] of published) {
      assert.match(
        port as string,
        /^127\.0\.0\.1:/,
        `${name}: ${port as string} bound to localhost only`,
      );
    }
  });

  test('the backends keep their data in named volumes', () => {
    const dataDirs: Record<string, string> = {
      prometheus: '/prometheus',
      loki: service('loki').environment?.LOKI_DATA_DIR ?? '',
      tempo: service('tempo').environment?.TEMPO_DATA_DIR ?? '',
      grafana: '/var/lib/grafana',
    };
    const declared = new Set(Object.keys(compose.volumes ?? {}));
    for (const [name, dir] of Object.entries(dataDirs)) {
      const volume = (service(name).volumes ?? []).find(
        (v) => !v.startsWith('.') && v.split(':')[1] === dir,
      );
      assert.ok(volume, `${name}: a named volume at ${dir}`);
      assert.ok(
        declared.has(volume.split(':')[0] as string),
        `${name}: volume ${volume} is declared`,
      );
    }
    assert.ok(service('prometheus').command?.includes('--storage.tsdb.path=/prometheus'));
  });

  test("the collectors' persistent queues are named volumes, handed to the collectors' user once", () => {
    const declared = new Set(Object.keys(compose.volumes ?? {}));
    const queueVolumes: string[] = [];
    for (const name of ['otel-agent', 'otel-gateway']) {
      const dir = service(name).environment?.OTELCOL_STORAGE_DIR ?? '';
      const volume = (service(name).volumes ?? []).find((v) => v.split(':')[1] === dir);
      assert.ok(volume && !volume.startsWith('.'), `${name}: a named volume at ${dir}`);
      assert.ok(declared.has(volume.split(':')[0] as string), `${name}: ${volume} declared`);
      assert.equal(service(name).user, undefined, `${name} runs as the image's user (10001)`);
      assert.equal(
        service(name).depends_on?.['otel-queue-volumes']?.condition,
        'service_completed_successfully',
      );
      queueVolumes.push(volume);
    }
    const init = service('otel-queue-volumes');
    assert.deepEqual(init.volumes, queueVolumes, 'the one-shot mounts exactly the queue volumes');
    assert.deepEqual(init.command, [
      'chown',
      '10001:10001',
      ...queueVolumes.map((v) => v.split(':')[1] as string),
    ]);
    assert.deepEqual(init.cap_drop, ['ALL']);
    assert.deepEqual(init.cap_add, ['CHOWN']);
    assert.equal(init.network_mode, 'none');
    assert.equal(init.restart, undefined, 'runs once');
  });
});

describe('docker-compose.yaml: start order, profiles, secrets', () => {
  test('healthchecks, and depends_on waits for healthy services where they have a healthcheck', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const [dependency, { condition }] of Object.entries(s.depends_on ?? {})) {
        assert.ok(serviceNames.has(dependency), `${name} depends on ${dependency}, which exists`);
        const hasCheck = services[dependency]?.healthcheck !== undefined;
        // A one-shot job is waited for until it has exited successfully.
        const oneShot = services[dependency]?.restart === undefined;
        assert.equal(
          condition,
          oneShot
            ? 'service_completed_successfully'
            : hasCheck
              ? 'service_healthy'
              : 'service_started',
          `${name} -> ${dependency}: ${hasCheck ? 'healthy' : 'started (no healthcheck possible)'}`,
        );
      }
    }
    // Everything that serves has a healthcheck, except the collectors and Tempo 2.10: their images have
    // no shell and no HTTP client, and neither binary has a health subcommand (Tempo's came with 3.0).
    const withoutCheck = Object.entries(services)
      .filter(([, s]) => !s.healthcheck && !s.profiles && s.restart !== undefined)
      .map(([name]) => name)
      .sort();
    assert.deepEqual(withoutCheck, ['otel-agent', 'otel-gateway', 'tempo']);
    assert.equal(service('grafana').depends_on?.prometheus?.condition, 'service_healthy');
    assert.equal(service('api-gateway').depends_on?.['user-service']?.condition, 'service_healthy');
  });

  test('the traffic generator is an optional profile', () => {
    assert.deepEqual(service('traffic-generator').profiles, ['traffic']);
    for (const [name, s] of Object.entries(services)) {
      if (name !== 'traffic-generator') assert.equal(s.profiles, undefined, `${name} always runs`);
    }
  });

  test('no Grafana password in the file: GRAFANA_ADMIN_PASSWORD is required', () => {
    assert.match(
      service('grafana').environment?.GF_SECURITY_ADMIN_PASSWORD ?? '',
      /^\$\{GRAFANA_ADMIN_PASSWORD:\?[^}]+\}$/,
    );
    for (const [name, s] of Object.entries(services)) {
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        if (/PASSWORD|SECRET|TOKEN/.test(key) && key !== 'GF_SECURITY_ADMIN_PASSWORD') {
          assert.fail(`${name}: ${key}=${String(value)} looks like a committed secret`);
        }
      }
    }
  });
});

describe('docker-compose.yaml: Grafana provisioning is the same files as the kind stack', () => {
  test('compose mounts grafana/provisioning/{datasources,dashboards} and grafana/dashboards', () => {
    const mounts = Object.fromEntries(bindMounts('grafana').map((m) => [m.source, m.target]));
    assert.equal(
      mounts['grafana/provisioning/datasources'],
      '/etc/grafana/provisioning/datasources',
    );
    assert.equal(mounts['grafana/provisioning/dashboards'], '/etc/grafana/provisioning/dashboards');
    const provider = readYaml('grafana/provisioning/dashboards/dashboards.yaml');
    const providerPath = dig(provider, 'providers', '0', 'options', 'path');
    assert.equal(
      mounts['grafana/dashboards'],
      providerPath,
      'dashboards mounted where the provider reads them',
    );
    assert.ok(statSync(join(repoRoot, 'grafana/dashboards')).isDirectory());
  });

  test('the kind values read the same data source file and dashboard directory', () => {
    const path = join(repoRoot, 'values/kube-prometheus-stack.files.yaml.gotmpl');
    assert.ok(existsSync(path), 'values/kube-prometheus-stack.files.yaml.gotmpl must exist');
    const text = readFileSync(path, 'utf8');
    // helmfile resolves these paths relative to the values file or to helmfile.yaml: either way they
    // must land on the files compose mounts.
    const resolvesTo = (relative: string, expected: string) =>
      [dirname(path), repoRoot].some(
        (base) => resolve(base, relative) === join(repoRoot, expected),
      );
    const datasources = /readFile "([^"]*datasources\.yaml)"/.exec(text)?.[1] ?? '';
    assert.ok(
      resolvesTo(datasources, 'grafana/provisioning/datasources/datasources.yaml'),
      `kind reads the data sources from "${datasources}"`,
    );
    const dashboards = /readDir "([^"]*dashboards)"/.exec(text)?.[1] ?? '';
    assert.ok(
      resolvesTo(dashboards, 'grafana/dashboards'),
      `kind reads the dashboards from "${dashboards}"`,
    );
    const kindEnv = dig(readYaml('values/kube-prometheus-stack.yaml'), 'grafana', 'env') as Record<
      string,
      string
    >;
    assert.deepEqual(
      Object.keys(kindEnv ?? {}).sort(),
      ['LOKI_URL', 'PROMETHEUS_URL', 'TEMPO_URL'],
      'kind sets the same data source URL variables',
    );
  });
});

describe('docker-compose.yaml: validated by the Compose CLI (docker-compose config)', () => {
  // Only PATH and HOME from the environment, and no .env file: the result must not depend on the
  // developer's shell (COMPOSE_PROFILES, a GRAFANA_ADMIN_PASSWORD in .env, ...).
  const run = (bin: string, args: string[], env: Record<string, string> = {}) =>
    spawnSync(bin, ['--env-file', '/dev/null', '-f', composePath, ...args], {
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
});
