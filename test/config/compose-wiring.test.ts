// docker-compose.yaml's wiring: mounted files exist and are the shared configs (no compose-only
// copies), every address names a compose service on a port it listens on, environment variables are
// ones the mounted configs read, and data and queues live in named volumes.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { repoRoot } from '../support/versions.ts';
import {
  bindMounts,
  compose,
  defaultIn,
  portOf,
  service,
  serviceNames,
  services,
  variablesReadBy,
} from './compose-file.ts';

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
