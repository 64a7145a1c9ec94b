// backends/: the monolithic Prometheus, Loki and Tempo configs of docker compose. Prometheus' is
// accepted by the pinned promtool (a failure under CI=true when it is missing); Loki's and Tempo's are
// checked by structure and against the compose tests' stand-ins (below).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { requireTool } from '../support/tools.ts';
import { pinnedVersion, repoRoot } from '../support/versions.ts';

const run = promisify(execFile);
const backend = (name: string): string => join(repoRoot, 'backends', `${name}.yaml`);
const versionPattern = (key: string): RegExp =>
  new RegExp(`version v?${pinnedVersion(key).replaceAll('.', '\\.')}\\b`);

describe('prometheus config', () => {
  it('enables OTLP translation with promoted resource attributes and an out-of-order window', () => {
    const config = parse(readFileSync(backend('prometheus'), 'utf8')) as {
      otlp: { promote_resource_attributes: string[] };
      storage: { tsdb: { out_of_order_time_window: string; retention: { time: string } } };
    };
    assert.ok(config.otlp.promote_resource_attributes.includes('service.name'));
    assert.ok(config.otlp.promote_resource_attributes.includes('deployment.environment.name'));
    assert.ok(config.storage.tsdb.out_of_order_time_window);
    assert.ok(config.storage.tsdb.retention.time);
  });

  it('is accepted by promtool, and prometheus is the pinned version', async (t) => {
    const promtool = requireTool('promtool', t);
    const prometheus = requireTool('prometheus', t);
    if (!promtool || !prometheus) return;
    const { stdout } = await run(promtool, ['check', 'config', backend('prometheus')]);
    assert.match(stdout, /SUCCESS/);
    const version = await run(prometheus, ['--version']);
    assert.match(version.stdout, versionPattern('PROMETHEUS_VERSION'));
  });
});

// Loki and Tempo are AGPL: their binaries are neither built nor run here, so their configs are checked
// by structure only (what Loki's and Tempo's configuration references document for these keys), and
// against the recording stand-ins the compose e2e puts in their place: a stand-in must listen exactly
// where the real backend listens with docker-compose.yaml's environment. That Loki and Tempo accept
// these files as a whole is not proven here (only on paper).
const composeEnv = (service: string): Record<string, string> =>
  (
    parse(readFileSync(join(repoRoot, 'docker-compose.yaml'), 'utf8')) as {
      services: Record<string, { environment?: Record<string, string> }>;
    }
  ).services[service]?.environment ?? {};

/** A config file as the backend reads it with -config.expand-env=true and the given environment. */
function expanded(name: string, env: Record<string, string>): Record<string, unknown> {
  const text = readFileSync(backend(name), 'utf8').replace(
    /\$\{([A-Z0-9_]+)(?::-([^}]*))?\}/g,
    (_m, key: string, fallback: string | undefined) => env[key] ?? fallback ?? '',
  );
  return parse(text) as Record<string, unknown>;
}

/** Receiver endpoints and health endpoint of a stand-in (test/compose/<name>.yaml). */
function standIn(name: string): {
  receivers: { otlp: { protocols: Record<string, { endpoint: string; logs_url_path?: string }> } };
  extensions: { health_check: { endpoint: string; path: string } };
} {
  return parse(
    readFileSync(join(repoRoot, 'test', 'compose', `${name}.yaml`), 'utf8'),
  ) as ReturnType<typeof standIn>;
}

describe('loki config (structure; the AGPL binary is not run here)', () => {
  const loki = expanded('loki', composeEnv('loki')) as {
    server: { http_listen_address: string; http_listen_port: number };
    distributor: { otlp_config: { default_resource_attributes_as_index_labels: string[] } };
    schema_config: { configs: { store: string; schema: string }[] };
    limits_config: { allow_structured_metadata: boolean };
  };

  it('stores OTLP logs: structured metadata allowed, on the v13 schema with the TSDB index', () => {
    assert.equal(loki.limits_config.allow_structured_metadata, true);
    const current = loki.schema_config.configs.at(-1);
    assert.equal(current?.schema, 'v13');
    assert.equal(current?.store, 'tsdb');
  });

  it('makes the resource attributes the dashboards select on index labels', () => {
    const labels = loki.distributor.otlp_config.default_resource_attributes_as_index_labels;
    for (const attribute of ['service.name', 'deployment.environment.name']) {
      assert.ok(labels.includes(attribute), attribute);
    }
  });

  it("in compose, listens on :3100, where the stand-in serves Loki's OTLP path /otlp/v1/logs", () => {
    assert.equal(loki.server.http_listen_address, '0.0.0.0');
    const http = standIn('loki').receivers.otlp.protocols.http;
    assert.equal(http?.endpoint, `0.0.0.0:${loki.server.http_listen_port}`);
    assert.equal(http?.logs_url_path, '/otlp/v1/logs');
    // The gateway posts to LOKI_URL + /otlp (+ /v1/logs, appended by the otlphttp exporter).
    const collector = readFileSync(join(repoRoot, 'collector', 'gateway.yaml'), 'utf8');
    assert.match(collector, /endpoint: \$\{env:LOKI_URL:-http:\/\/localhost:3100\}\/otlp\n/);
    assert.equal(
      composeEnv('otel-gateway').LOKI_URL,
      `http://loki:${loki.server.http_listen_port}`,
    );
  });
});

describe('tempo config (structure; the AGPL binary is not run here)', () => {
  const tempo = expanded('tempo', composeEnv('tempo')) as {
    server: { http_listen_address: string; http_listen_port: number };
    distributor: { receivers: { otlp: { protocols: { grpc: { endpoint: string } } } } };
    storage: { trace: { backend: string } };
  };

  it('receives OTLP gRPC and stores traces locally', () => {
    assert.ok(tempo.distributor.receivers.otlp.protocols.grpc.endpoint);
    assert.equal(tempo.storage.trace.backend, 'local');
  });

  it('in compose, listens where the stand-in does: OTLP gRPC :4317, HTTP (API, /ready) :3200', () => {
    const stand = standIn('tempo');
    assert.equal(
      stand.receivers.otlp.protocols.grpc?.endpoint,
      tempo.distributor.receivers.otlp.protocols.grpc.endpoint,
    );
    assert.equal(tempo.server.http_listen_address, '0.0.0.0');
    assert.equal(
      stand.extensions.health_check.endpoint,
      `0.0.0.0:${tempo.server.http_listen_port}`,
    );
    assert.equal(stand.extensions.health_check.path, '/ready');
    const grpcPort = tempo.distributor.receivers.otlp.protocols.grpc.endpoint.split(':').at(-1);
    assert.equal(composeEnv('otel-gateway').TEMPO_OTLP_GRPC_ENDPOINT, `tempo:${grpcPort}`);
  });
});
