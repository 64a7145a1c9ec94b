// collector/: the two tiers (agent.yaml, gateway.yaml), the agent's Kubernetes overlay and the builder
// manifest agree with each other and with versions.env (the manifest lists exactly what the configs
// built on it use, the compose stand-ins included), and the built collector accepts every configuration.
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
const agentPath = join(repoRoot, 'collector', 'agent.yaml');
const agentK8sPath = join(repoRoot, 'collector', 'agent-k8s.yaml');
const gatewayPath = join(repoRoot, 'collector', 'gateway.yaml');
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

const read = (path: string): CollectorConfig =>
  parse(readFileSync(path, 'utf8')) as CollectorConfig;
const agent = read(agentPath);
const agentK8s = read(agentK8sPath);
const gateway = read(gatewayPath);
const manifest = parse(readFileSync(manifestPath, 'utf8')) as Manifest;

// Component type (the part of a component id before '/') -> the Go module that provides it.
const core = 'go.opentelemetry.io/collector';
const contrib = 'github.com/open-telemetry/opentelemetry-collector-contrib';
const moduleOfType: Record<string, string> = {
  otlp: `${core}/receiver/otlpreceiver`,
  memory_limiter: `${core}/processor/memorylimiterprocessor`,
  batch: `${core}/processor/batchprocessor`,
  k8s_attributes: `${contrib}/processor/k8sattributesprocessor`,
  resource: `${contrib}/processor/resourceprocessor`,
  tail_sampling: `${contrib}/processor/tailsamplingprocessor`,
  file_log: `${contrib}/receiver/filelogreceiver`,
  load_balancing: `${contrib}/exporter/loadbalancingexporter`,
  file_storage: `${contrib}/extension/storage/filestorage`,
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

/** Every component id that a config's pipelines and service.extensions use. */
function usedIds(c: CollectorConfig): string[] {
  const pipelines = Object.values(c.service.pipelines);
  return [
    ...new Set([
      ...(c.service.extensions ?? []),
      ...pipelines.flatMap((p) => [
        ...(p.receivers ?? []),
        ...(p.processors ?? []),
        ...(p.exporters ?? []),
      ]),
    ]),
  ].sort();
}

/** Collector config merge, as the collector does it for several --config: maps merge, lists replace. */
function merge(base: unknown, overlay: unknown): unknown {
  const isMap = (v: unknown): v is Record<string, unknown> =>
    v !== null && typeof v === 'object' && !Array.isArray(v);
  if (!isMap(base) || !isMap(overlay)) return overlay === undefined ? base : overlay;
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(overlay)) merged[key] = merge(merged[key], value);
  return merged;
}
const agentInK8s = merge(agent, agentK8s) as CollectorConfig;

describe('collector configs: both tiers', () => {
  const configs: [string, CollectorConfig][] = [
    ['agent.yaml', agent],
    ['agent.yaml + agent-k8s.yaml', agentInK8s],
    ['gateway.yaml', gateway],
  ];

  it('use only the current component type names', () => {
    for (const [name, c] of configs) {
      for (const id of componentIds(c))
        assert.ok(moduleOfType[typeOf(id)], `${name}: unknown or deprecated type in ${id}`);
    }
  });

  it('wire every defined component into a pipeline, and define every component a pipeline uses', () => {
    for (const [name, c] of configs) assert.deepEqual(usedIds(c), componentIds(c).sort(), name);
  });

  it('run memory_limiter first in every pipeline that receives from outside, and batch last', () => {
    for (const [name, c] of configs) {
      for (const [id, pipeline] of Object.entries(c.service.pipelines)) {
        const processors = pipeline.processors ?? [];
        const fromConnectors = (pipeline.receivers ?? []).every((r) => r in (c.connectors ?? {}));
        if (!fromConnectors) assert.equal(processors[0], 'memory_limiter', `${name} ${id}`);
        // traces/all feeds connectors that aggregate: batching would only delay them.
        const toConnectors = (pipeline.exporters ?? []).every((e) => e in (c.connectors ?? {}));
        if (!toConnectors) assert.equal(processors.at(-1), 'batch', `${name} ${id}`);
      }
    }
  });

  it('give every exporter that leaves the process a persistent queue in file_storage', () => {
    for (const [name, c] of configs) {
      for (const [id, exporter] of Object.entries(c.exporters ?? {})) {
        const queue = exporter.sending_queue as Record<string, unknown> | undefined;
        assert.equal(queue?.storage, 'file_storage/queue', `${name} ${id}`);
        assert.notEqual(queue?.enabled, false, `${name} ${id}`);
      }
    }
  });
});

describe('collector configs: the agent', () => {
  it('sends everything it receives to the gateways through the load balancer', () => {
    for (const [id, pipeline] of Object.entries(agentInK8s.service.pipelines))
      assert.deepEqual(pipeline.exporters, ['load_balancing'], id);
    const lb = agent.exporters?.load_balancing as Record<string, Record<string, unknown>>;
    // Default routing: traces by trace id (whole traces per gateway), metrics and logs by service.
    assert.equal(lb.routing_key, undefined);
    assert.ok(lb.resolver?.dns, 'DNS resolver: every address of the gateway name is a replica');
  });

  it('keeps requests under the 4 MiB gRPC limits of the gateway and Tempo, by count and by bytes', () => {
    // 8192 of the services' spans measured over 4 MiB: both tiers cap a request at 2048 items; and
    // since items of any size could still add up, the gRPC exporters split by bytes too.
    for (const [name, c] of [
      ['agent', agent],
      ['gateway', gateway],
    ] as const) {
      const batch = c.processors?.batch as { send_batch_max_size?: number };
      assert.ok(batch.send_batch_max_size && batch.send_batch_max_size <= 2048, name);
    }
    const receiver = gateway.receivers?.otlp as { protocols: { grpc: Record<string, unknown> } };
    assert.equal(receiver.protocols.grpc.max_recv_msg_size_mib, 4);
    for (const [name, exporter] of [
      ['agent → gateways', agent.exporters?.load_balancing],
      ['gateway → Tempo', gateway.exporters?.['otlp_grpc/tempo']],
    ] as const) {
      const queue = exporter?.sending_queue as { batch?: Record<string, unknown> };
      assert.equal(queue.batch?.sizer, 'bytes', name);
      assert.ok(Number(queue.batch?.max_size) <= 3.5 * 1024 * 1024, `${name}: max_size`);
      assert.equal(queue.batch?.min_size, 0, `${name}: splits only, adds no waiting`);
    }
  });

  it('the Kubernetes overlay restates each OTLP processor list with k8s_attributes before batch', () => {
    // A list in a later --config replaces the earlier one: the overlay must repeat the whole list.
    for (const [name, pipeline] of Object.entries(agent.service.pipelines)) {
      const expected = [...(pipeline.processors ?? [])];
      expected.splice(expected.indexOf('batch'), 0, 'k8s_attributes');
      assert.deepEqual(agentK8s.service.pipelines[name]?.processors, expected, name);
    }
    assert.deepEqual(
      Object.keys(agentK8s.service.pipelines).sort(),
      [
        ...Object.keys(agent.service.pipelines).filter((p) => p !== 'metrics/self'),
        'logs/pods',
      ].sort(),
    );
  });

  it('collects pod logs (current and rotated files) except from two namespaces, all their files', () => {
    const receiver = agentK8s.receivers?.['file_log/pods'] as {
      include: string[];
      exclude: string[];
    };
    const dir = '${env:OTELCOL_POD_LOGS_DIR:-/var/log/pods}';
    assert.deepEqual(receiver.include, [`${dir}/*/*/*.log`, `${dir}/*/*/*.log.????????-??????`]);
    assert.deepEqual(receiver.exclude, [
      `${dir}/\${env:OTELCOL_OTLP_LOGS_NAMESPACE:-apps}_*/*/*`,
      `${dir}/\${env:OTELCOL_AGENT_NAMESPACE:-otel-agent}_*/*/*`,
    ]);
  });
});

describe('collector configs: the gateway', () => {
  const pipelines = gateway.service.pipelines;

  it('derives span metrics and the service graph from every span, and samples only what goes to Tempo', () => {
    assert.deepEqual(pipelines['traces/all'], {
      receivers: ['otlp'],
      processors: ['memory_limiter'],
      exporters: ['span_metrics', 'service_graph'],
    });
    assert.deepEqual(pipelines['traces/sampled']?.processors, [
      'memory_limiter',
      'tail_sampling',
      'batch',
    ]);
    assert.deepEqual(pipelines['traces/sampled']?.exporters, ['otlp_grpc/tempo']);
    assert.deepEqual(pipelines['metrics/derived']?.receivers, ['span_metrics', 'service_graph']);
  });

  it('keeps errors, slow traces and a configurable share of the rest, 100 % by default', () => {
    const sampling = gateway.processors?.tail_sampling as {
      policies: { name: string; type: string; [k: string]: unknown }[];
    };
    assert.deepEqual(
      sampling.policies.map((p) => [p.name, p.type]),
      [
        ['errors', 'ottl_condition'],
        ['slow', 'latency'],
        ['share-of-the-rest', 'probabilistic'],
      ],
    );
    // An error is a request this system failed: a SERVER span with status ERROR (a 404's client
    // span is ERROR too, and is not).
    assert.deepEqual(sampling.policies[0]?.ottl_condition, {
      error_mode: 'ignore',
      span: ['span.kind == SPAN_KIND_SERVER and span.status.code == STATUS_CODE_ERROR'],
    });
    assert.deepEqual(sampling.policies[2]?.probabilistic, {
      sampling_percentage: '${env:TAIL_SAMPLING_PERCENTAGE:-100}',
    });
  });

  it('exports traces to Tempo over OTLP gRPC, logs to Loki /otlp, metrics to Prometheus /api/v1/otlp', () => {
    assert.deepEqual(pipelines.logs?.exporters, ['otlp_http/loki']);
    assert.deepEqual(pipelines.metrics?.exporters, ['otlp_http/prometheus']);
    assert.match(String(gateway.exporters?.['otlp_http/loki']?.endpoint), /\}\/otlp$/);
    assert.match(
      String(gateway.exporters?.['otlp_http/prometheus']?.endpoint),
      /\}\/api\/v1\/otlp$/,
    );
    // One sender into Prometheus: samples of a series stay in time order when the queue drains.
    const queue = gateway.exporters?.['otlp_http/prometheus']?.sending_queue as {
      num_consumers?: number;
    };
    assert.equal(queue.num_consumers, 1);
  });

  it('derived series carry an identity new at every start', () => {
    const instance = gateway.processors?.['resource/gateway-instance'] as {
      attributes: { key: string; value?: string; action: string }[];
    };
    // Through a key of its own: the span metrics keep the service's service.instance.id.
    assert.deepEqual(instance.attributes.slice(0, 4), [
      {
        key: 'otelcol.gateway.start',
        value: '${file:/proc/sys/kernel/random/uuid}',
        action: 'insert',
      },
      { key: 'otelcol.gateway.start', action: 'hash' },
      { key: 'service.instance.id', from_attribute: 'otelcol.gateway.start', action: 'insert' },
      { key: 'otelcol.gateway.start', action: 'delete' },
    ]);
  });

  it('attaches exemplars to the span metrics', () => {
    assert.deepEqual(gateway.connectors?.span_metrics?.exemplars, { enabled: true });
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
  it('is the pinned version and accepts the agent (alone and with its overlay) and the gateway', async (t) => {
    const otelcol = requireTool('otelcol', t);
    if (!otelcol) return;
    const { stdout } = await run(otelcol, ['--version']);
    assert.match(
      stdout,
      new RegExp(`\\b${pinnedVersion('OTELCOL_VERSION').replaceAll('.', '\\.')}\\b`),
    );
    await run(otelcol, ['validate', `--config=${agentPath}`]);
    await run(otelcol, ['validate', `--config=${agentPath}`, `--config=${agentK8sPath}`], {
      env: { ...process.env, K8S_NODE_NAME: 'kind-worker' },
    });
    await run(otelcol, ['validate', `--config=${gatewayPath}`]);
  });
});
