// collector/: the one pipeline (config.yaml), the Kubernetes overlay and the builder manifest agree
// with each other and with versions.env (the manifest lists exactly what the configs built on it use,
// the compose stand-ins included), and the built collector accepts both configurations.
// The last part needs otelcol (scripts/install-tools.sh otelcol): a failure under CI=true when missing.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { requireTool } from '../support/tools.ts';
import { pinnedVersion, repoRoot } from '../support/versions.ts';

const run = promisify(execFile);
const configPath = join(repoRoot, 'collector', 'config.yaml');
const overlayPath = join(repoRoot, 'collector', 'k8s-overlay.yaml');
const manifestPath = join(repoRoot, 'collector', 'builder-config.yaml');

type Pipeline = { receivers?: string[]; processors?: string[]; exporters?: string[] };
type CollectorConfig = {
  receivers?: Record<string, unknown>;
  processors?: Record<string, unknown>;
  exporters?: Record<string, Record<string, unknown>>;
  connectors?: Record<string, Record<string, unknown>>;
  extensions?: Record<string, unknown>;
  service: { extensions?: string[]; pipelines: Record<string, Pipeline> };
};
type Manifest = {
  dist: { version: string; name: string; output_path: string };
  [kind: string]: unknown;
};

const config = parse(readFileSync(configPath, 'utf8')) as CollectorConfig;
const overlay = parse(readFileSync(overlayPath, 'utf8')) as CollectorConfig;
const manifest = parse(readFileSync(manifestPath, 'utf8')) as Manifest;

// Component type (the part of a component id before '/') -> the Go module that provides it.
const core = 'go.opentelemetry.io/collector';
const contrib = 'github.com/open-telemetry/opentelemetry-collector-contrib';
const moduleOfType: Record<string, string> = {
  otlp: `${core}/receiver/otlpreceiver`,
  memory_limiter: `${core}/processor/memorylimiterprocessor`,
  batch: `${core}/processor/batchprocessor`,
  k8s_attributes: `${contrib}/processor/k8sattributesprocessor`,
  otlp_grpc: `${core}/exporter/otlpexporter`,
  otlp_http: `${core}/exporter/otlphttpexporter`,
  span_metrics: `${contrib}/connector/spanmetricsconnector`,
  service_graph: `${contrib}/connector/servicegraphconnector`,
  health_check: `${contrib}/extension/healthcheckextension`,
  file: `${contrib}/exporter/fileexporter`,
};
const providerModules = ['envprovider', 'fileprovider', 'yamlprovider'].map(
  (p) => `${core}/confmap/provider/${p}`,
);

const typeOf = (id: string): string => id.split('/')[0] as string;

function componentIds(c: CollectorConfig): string[] {
  const sections = [c.receivers, c.processors, c.exporters, c.connectors, c.extensions];
  return sections.flatMap((section) => Object.keys(section ?? {}));
}

function manifestModules(): Map<string, string> {
  const modules = new Map<string, string>();
  for (const kind of [
    'receivers',
    'processors',
    'exporters',
    'connectors',
    'extensions',
    'providers',
  ]) {
    for (const entry of (manifest[kind] ?? []) as { gomod: string }[]) {
      const [path, version] = entry.gomod.split(/\s+/);
      modules.set(path as string, version as string);
    }
  }
  return modules;
}

describe('collector config', () => {
  it('uses only the current component type names', () => {
    for (const id of componentIds(config).concat(componentIds(overlay))) {
      assert.ok(moduleOfType[typeOf(id)], `unknown or deprecated component type in ${id}`);
    }
  });

  it('wires every defined component into a pipeline and every pipeline component is defined', () => {
    const pipelines = Object.values(config.service.pipelines);
    const used = new Set([
      ...(config.service.extensions ?? []),
      ...pipelines.flatMap((p) => [
        ...(p.receivers ?? []),
        ...(p.processors ?? []),
        ...(p.exporters ?? []),
      ]),
    ]);
    assert.deepEqual([...used].sort(), componentIds(config).sort());
  });

  it('runs memory_limiter first and batch last in every pipeline', () => {
    for (const [name, pipeline] of Object.entries(config.service.pipelines)) {
      assert.deepEqual(pipeline.processors, ['memory_limiter', 'batch'], name);
    }
  });

  it('exports traces to Tempo over OTLP gRPC, logs to Loki /otlp, metrics to Prometheus /api/v1/otlp', () => {
    const { pipelines } = config.service;
    assert.deepEqual(pipelines.traces?.exporters, [
      'otlp_grpc/tempo',
      'span_metrics',
      'service_graph',
    ]);
    assert.deepEqual(pipelines.metrics?.receivers, ['otlp', 'span_metrics', 'service_graph']);
    assert.deepEqual(pipelines.logs?.exporters, ['otlp_http/loki']);
    assert.deepEqual(pipelines.metrics?.exporters, ['otlp_http/prometheus']);
    assert.match(String(config.exporters?.['otlp_http/loki']?.endpoint), /\}\/otlp$/);
    assert.match(
      String(config.exporters?.['otlp_http/prometheus']?.endpoint),
      /\}\/api\/v1\/otlp$/,
    );
  });

  it('attaches exemplars to the span metrics', () => {
    assert.deepEqual(config.connectors?.span_metrics?.exemplars, { enabled: true });
  });

  it('the Kubernetes overlay restates each processor list with k8s_attributes before batch', () => {
    // A list in a later --config replaces the earlier one: the overlay must repeat the whole list.
    for (const [name, pipeline] of Object.entries(config.service.pipelines)) {
      const expected = [...(pipeline.processors ?? [])];
      expected.splice(expected.indexOf('batch'), 0, 'k8s_attributes');
      assert.deepEqual(overlay.service.pipelines[name]?.processors, expected, name);
    }
    assert.deepEqual(
      Object.keys(overlay.service.pipelines).sort(),
      Object.keys(config.service.pipelines).sort(),
    );
  });
});

describe('collector builder manifest', () => {
  it('lists exactly the modules of the components that the configs built on it use', () => {
    // Every collector config of the repository runs on this build: the pipeline, its overlays and
    // any other config under collector/, and the compose tests' recording stand-ins (test/compose/).
    const configDir = (dir: string): CollectorConfig[] =>
      readdirSync(join(repoRoot, dir))
        .filter((f) => f.endsWith('.yaml') && f !== 'builder-config.yaml')
        .map((f) => parse(readFileSync(join(repoRoot, dir, f), 'utf8')) as CollectorConfig);
    const configs = [...configDir('collector'), ...configDir(join('test', 'compose'))];
    const needed = new Set(
      configs.flatMap(componentIds).map((id) => moduleOfType[typeOf(id)] ?? `unknown type ${id}`),
    );
    const listed = [...manifestModules().keys()].filter((m) => !providerModules.includes(m));
    assert.deepEqual(listed.sort(), [...needed].sort());
  });

  it('pins every module at the collector version of versions.env', () => {
    const version = pinnedVersion('OTELCOL_VERSION');
    const stable = pinnedVersion('OTELCOL_STABLE_VERSION');
    assert.equal(manifest.dist.version, version);
    for (const [path, v] of manifestModules()) {
      const expected = providerModules.includes(path) ? `v${stable}` : `v${version}`;
      assert.equal(v, expected, path);
    }
  });
});

describe('collector binary', () => {
  it('is the pinned version and accepts config.yaml alone and with the Kubernetes overlay', async (t) => {
    const otelcol = requireTool('otelcol', t);
    if (!otelcol) return;
    const { stdout } = await run(otelcol, ['--version']);
    assert.match(
      stdout,
      new RegExp(`\\b${pinnedVersion('OTELCOL_VERSION').replaceAll('.', '\\.')}\\b`),
    );
    await run(otelcol, ['validate', `--config=${configPath}`]);
    await run(otelcol, ['validate', `--config=${configPath}`, `--config=${overlayPath}`]);
  });
});
