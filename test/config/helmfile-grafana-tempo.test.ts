// The kind stack's Grafana (data sources, dashboards, admin Secret) and Tempo (backends/tempo.yaml,
// its environment and storage), as the helmfile values declare them.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { readYaml, release, releaseValue, type Yaml } from '../support/kind-stack.ts';
import { repoRoot } from '../support/versions.ts';
import {
  helmfile,
  read,
  kps,
  gateway,
  agent,
  strings,
  envValue,
  clusterUrl,
} from './helmfile-stack.ts';

describe('Grafana and Tempo', () => {
  const datasourcesFile = 'grafana/provisioning/datasources/datasources.yaml';

  it('provisions the data sources file with fixed uids and the env its URLs need', () => {
    const text = read(datasourcesFile);
    // The grafana chart renders `datasources` with `tpl`.
    assert.ok(!text.includes('{{'), `${datasourcesFile} must not contain "{{"`);
    const file = parse(text) as { datasources: Yaml[] };
    const uids = file.datasources.map((d) => d.uid);
    assert.deepEqual([...uids].sort(), ['loki', 'prometheus', 'tempo']);
    assert.equal(
      file.datasources.filter((d) => d.isDefault === true).length,
      1,
      'exactly one default',
    );
    // Every cross-reference points at a provisioned uid.
    for (const match of JSON.stringify(file).matchAll(/"datasourceUid":"([^"]*)"/g)) {
      assert.ok(uids.includes(match[1]), `datasourceUid ${match[1]} is provisioned`);
    }
    // ${VAR} (not $${...}, an escaped literal) comes from grafana.env.
    const env = (releaseValue(kps, 'grafana.env') ?? {}) as Record<string, string>;
    const referenced = strings(file).flatMap((value) =>
      [...value.matchAll(/(?<!\$)\$\{([A-Z_][A-Z0-9_]*)\}/g)].map((m) => m[1] as string),
    );
    assert.deepEqual([...new Set(referenced)].sort(), ['LOKI_URL', 'PROMETHEUS_URL', 'TEMPO_URL']);
    for (const name of referenced) assert.ok(env[name], `grafana.env.${name} is set`);
    // No second Prometheus data source from kube-prometheus-stack's sidecar (uid prometheus, isDefault).
    assert.equal(releaseValue(kps, 'grafana.sidecar.datasources.enabled'), false);
    assert.equal(releaseValue(kps, 'alertmanager.enabled'), false);
    // The .gotmpl reads exactly this file into grafana.datasources.
    assert.ok(
      read('values/kube-prometheus-stack.files.yaml.gotmpl').includes(
        `readFile "../${datasourcesFile}"`,
      ),
    );
  });

  it('points the data sources at the backends the releases create (and where the collector writes)', () => {
    const env = (releaseValue(kps, 'grafana.env') ?? {}) as Record<string, string>;
    const prometheus = clusterUrl(env.PROMETHEUS_URL as string);
    assert.deepEqual(prometheus, {
      service: `${kps.name}-prometheus`,
      namespace: kps.namespace,
      port: 9090,
    });
    const loki = release(helmfile, 'loki');
    assert.deepEqual(clusterUrl(env.LOKI_URL as string), {
      service: loki.name,
      namespace: loki.namespace,
      port: 3100,
    });
    const tempo = release(helmfile, 'tempo');
    assert.deepEqual(clusterUrl(env.TEMPO_URL as string), {
      service: tempo.name,
      namespace: tempo.namespace,
      port: 3200,
    });
    // Grafana reads from where the gateways write (and the agents push their own metrics).
    assert.equal(envValue(gateway, 'PROMETHEUS_URL'), env.PROMETHEUS_URL);
    assert.equal(envValue(agent, 'PROMETHEUS_URL'), env.PROMETHEUS_URL);
    assert.equal(envValue(gateway, 'LOKI_URL'), env.LOKI_URL);
    assert.deepEqual(clusterUrl(envValue(gateway, 'TEMPO_OTLP_GRPC_ENDPOINT')), {
      service: tempo.name,
      namespace: tempo.namespace,
      port: 4317,
    });
  });

  it('runs Tempo with backends/tempo.yaml, listening where the collector and Grafana connect', () => {
    const tempo = release(helmfile, 'tempo');
    const template = read('values/tempo.config.yaml.gotmpl');
    assert.ok(template.includes('readFile "../backends/tempo.yaml"'));
    assert.ok(
      !read('backends/tempo.yaml').includes('{{'),
      "backends/tempo.yaml goes through the chart's tpl",
    );
    const extraArgs = (releaseValue(tempo, 'tempo.extraArgs') ?? {}) as Record<string, unknown>;
    assert.equal(
      extraArgs['config.expand-env'],
      true,
      'Tempo expands ${VAR:-default} in its config',
    );
    const env = new Map(
      ((releaseValue(tempo, 'tempo.extraEnv') ?? []) as { name: string; value: string }[]).map(
        (e) => [e.name, e.value],
      ),
    );
    // Every placeholder of the file that has a local-only default is set for the cluster.
    const placeholders = new Set(
      strings(readYaml('backends/tempo.yaml')).flatMap((v) =>
        [...v.matchAll(/\$\{([A-Z_][A-Z0-9_]*)/g)].map((m) => m[1]),
      ),
    );
    for (const name of ['TEMPO_LISTEN_ADDRESS', 'TEMPO_OTLP_GRPC_LISTEN', 'TEMPO_DATA_DIR']) {
      assert.ok(placeholders.has(name), `backends/tempo.yaml reads ${name}`);
      assert.ok(env.has(name), `values/tempo.yaml sets ${name}`);
    }
    assert.equal(env.get('TEMPO_LISTEN_ADDRESS'), '0.0.0.0');
    assert.equal(
      env.get('TEMPO_OTLP_GRPC_LISTEN'),
      '0.0.0.0:4317',
      'OTLP gRPC on the port the collector uses',
    );
    assert.ok(
      !env.has('TEMPO_HTTP_PORT') || env.get('TEMPO_HTTP_PORT') === '3200',
      'HTTP on 3200 (probes, Grafana)',
    );
    assert.equal(env.get('TEMPO_DATA_DIR'), '/var/tempo', "data on the chart's volume");
  });

  it('loads every dashboard JSON through the sidecar', () => {
    assert.equal(releaseValue(kps, 'grafana.sidecar.dashboards.enabled'), true);
    const label = String(releaseValue(kps, 'grafana.sidecar.dashboards.label'));
    const labelValue = String(releaseValue(kps, 'grafana.sidecar.dashboards.labelValue'));
    const template = read('values/kube-prometheus-stack.files.yaml.gotmpl');
    assert.ok(
      template.includes(`${label}: "${labelValue}"`),
      `dashboard ConfigMaps labelled ${label}=${labelValue}`,
    );
    const folderAnnotation = String(
      releaseValue(kps, 'grafana.sidecar.dashboards.folderAnnotation'),
    );
    assert.ok(template.includes(`${folderAnnotation}: node-observability-stack`));
    const dir = join(repoRoot, 'grafana/dashboards');
    const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')) : [];
    const allowed = new Set([
      'prometheus',
      'loki',
      'tempo',
      'grafana',
      '-- Grafana --',
      '-- Mixed --',
      '-- Dashboard --',
    ]);
    for (const file of files) {
      const dashboard = JSON.parse(readFileSync(join(dir, file), 'utf8')) as unknown;
      // ConfigMap name: dashboard-<file name>, a DNS label.
      const name = `dashboard-${file
        .replace(/\.json$/, '')
        .toLowerCase()
        .replaceAll('_', '-')
        .replaceAll('.', '-')}`;
      assert.match(name, /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, `${file} -> ConfigMap ${name}`);
      const uids = JSON.stringify(dashboard).matchAll(/"datasource":\{[^{}]*"uid":"([^"]+)"/g);
      for (const [, uid] of uids) {
        assert.ok(
          allowed.has(uid as string) || (uid as string).startsWith('$'),
          `${file}: datasource uid ${uid}`,
        );
      }
    }
  });
});
