// The two collector tiers as containers on a private Docker network, with their real configs
// (collector/agent.yaml, collector/gateway.yaml, mounted read-only) in the local collector image, the
// local Prometheus image with backends/prometheus.yaml and the flags docker-compose.yaml gives it, and
// the recording stand-ins for Tempo and Loki (test/compose/*.yaml), which write what they receive to
// `recordsDir`. The agent's OTLP gRPC port and Prometheus are published on 127.0.0.1 for the services
// (local processes) and the test. Gateways are containers with one network alias: the agent's DNS
// resolver finds one address per running gateway, so two of them are two replicas.
//
// Every container, network and volume is named with the `nos-topo-` prefix; down() removes them all.
import {
  chmodSync,
  chownSync,
  closeSync,
  fstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { poll, PrometheusApi } from './backend-api.ts';
import { collect, engineGet, type RunResult } from './compose-stack.ts';
import { localImages, RECORDS_TARGET, STANDIN_CONFIG_TARGET } from './compose-override.ts';
import { logsOf, spansOf } from './otlp-json.ts';
import type { ReceivedLog, ReceivedSpan } from './otlp-receiver.ts';
import { pinnedVersion, repoRoot } from './versions.ts';

export const PREFIX = 'nos-topo-';
const network = `${PREFIX}net`;
const prometheusVolume = `${PREFIX}prometheus-data`;
/** The gateways' network alias, what the agent resolves (OTELCOL_GATEWAY_HOSTNAME). */
const GATEWAY_ALIAS = 'otel-gateway';
/** The collector image's user: the queue directories must be writable for it. */
const COLLECTOR_UID = 10001;

/** Host ports (127.0.0.1 only). */
export const PORTS = {
  apiGateway: 21080,
  userService: 21081,
  prometheus: 21090,
  agentOtlpGrpc: 21317,
  agentOtlpHttp: 21318,
  agentMetrics: 21888,
  agentHealth: 21133,
  tempoHealth: 21120,
  lokiHealth: 21121,
  gatewayHealth: (index: number): number => 21140 + index,
  gatewayMetrics: (index: number): number => 21150 + index,
} as const;

export const images = {
  collector: (): string => `nos-ci/otelcol-contrib:${pinnedVersion('OTELCOL_VERSION')}`,
  prometheus: (): string => `nos-ci/prometheus:v${pinnedVersion('PROMETHEUS_VERSION')}`,
  recorder: localImages.recorder,
};

export type DockerResult = RunResult;

/** The docker CLI; resolves with its output whatever the exit code. */
export function docker(args: string[], timeoutMs = 60_000): Promise<DockerResult> {
  return collect('docker', args, {}, timeoutMs);
}

/** docker(), throwing with stderr on a non-zero exit. */
export async function mustDocker(args: string[], timeoutMs?: number): Promise<string> {
  const result = await docker(args, timeoutMs);
  if (result.status !== 0) {
    throw new Error(`docker ${args.join(' ')} exited ${result.status}: ${result.stderr.trim()}`);
  }
  return result.stdout;
}

/** Which of `names` the engine lacks (never pulls). */
export async function missingImages(names: string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const name of names) {
    if ((await docker(['image', 'inspect', name])).status !== 0) missing.push(name);
  }
  return missing;
}

/** Prometheus text exposition -> samples by full series text (`name{labels}`). */
export function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^(\S+?(?:\{.*\})?)\s+(\S+)(?:\s+\d+)?$/.exec(line);
    if (match) samples.set(match[1] as string, Number(match[2]));
  }
  return samples;
}

/** Sum of the samples of metric `name` whose labels contain every `label="value"` given. */
export function sumOf(
  samples: Map<string, number>,
  name: string,
  labels: Record<string, string> = {},
): number {
  let total = 0;
  for (const [series, value] of samples) {
    if (series !== name && !series.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => series.includes(`${k}="${v}"`))) total += value;
  }
  return total;
}

export interface GatewayOptions {
  /** TAIL_SAMPLING_PERCENTAGE; the config's default (100) when absent. */
  tailSamplingPercentage?: number;
}

export class Topology {
  readonly dir = mkdtempSync(join(tmpdir(), 'nos-topo-'));
  readonly recordsDir = join(this.dir, 'records');
  readonly agentQueueDir = join(this.dir, 'agent-queue');
  readonly prometheus = new PrometheusApi(`http://127.0.0.1:${PORTS.prometheus}`);
  /** For the services' OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly agentEndpoint = `http://127.0.0.1:${PORTS.agentOtlpGrpc}`;
  /** Gateway containers created so far (running or not), by index. */
  readonly gateways = new Map<number, string>();
  private readonly created: string[] = [];

  private constructor() {
    mkdirSync(this.recordsDir);
    // The stand-ins run as the collector image's user and write here.
    chmodSync(this.recordsDir, 0o777);
    this.queueDir(this.agentQueueDir);
  }

  /** Network, Prometheus, the stand-ins and the agent; gateways are started by startGateway(). */
  static async start(): Promise<Topology> {
    const topology = new Topology();
    try {
      await topology.removeLeftovers();
      await mustDocker(['network', 'create', network]);
      await mustDocker(['volume', 'create', prometheusVolume]);
      await topology.run('prometheus', [
        '--network-alias',
        'prometheus',
        '-p',
        `127.0.0.1:${PORTS.prometheus}:9090`,
        '-v',
        `${join(repoRoot, 'backends', 'prometheus.yaml')}:/etc/prometheus/prometheus.yaml:ro`,
        '-v',
        `${prometheusVolume}:/prometheus`,
        images.prometheus(),
        // The flags of docker-compose.yaml.
        '--config.file=/etc/prometheus/prometheus.yaml',
        '--storage.tsdb.path=/prometheus',
        '--web.enable-otlp-receiver',
        '--enable-feature=exemplar-storage',
      ]);
      await topology.runStandIn('tempo', PORTS.tempoHealth, 3200);
      await topology.runStandIn('loki', PORTS.lokiHealth, 13133);
      await topology.waitHealthy(`http://127.0.0.1:${PORTS.prometheus}/-/ready`, 'prometheus');
      await topology.waitHealthy(`http://127.0.0.1:${PORTS.tempoHealth}/ready`, 'tempo stand-in');
      await topology.waitHealthy(`http://127.0.0.1:${PORTS.lokiHealth}/ready`, 'loki stand-in');
      await topology.createAgent();
      await topology.startAgent();
      return topology;
    } catch (error) {
      await topology.down();
      throw error;
    }
  }

  /** A fresh directory the collector image's user can write (a persistent queue). */
  private queueDir(path: string): string {
    mkdirSync(path, { recursive: true });
    chownSync(path, COLLECTOR_UID, COLLECTOR_UID);
    return path;
  }

  private async run(name: string, args: string[]): Promise<void> {
    const container = `${PREFIX}${name}`;
    this.created.push(container);
    await mustDocker(['run', '-d', '--name', container, '--network', network, ...args]);
  }

  private async create(name: string, args: string[]): Promise<void> {
    const container = `${PREFIX}${name}`;
    this.created.push(container);
    await mustDocker(['create', '--name', container, '--network', network, ...args]);
  }

  private async runStandIn(name: 'tempo' | 'loki', healthPort: number, port: number) {
    await this.run(name, [
      '--network-alias',
      name,
      '-p',
      `127.0.0.1:${healthPort}:${port}`,
      '-v',
      `${join(repoRoot, 'test', 'compose', `${name}.yaml`)}:${STANDIN_CONFIG_TARGET}:ro`,
      '-v',
      `${this.recordsDir}:${RECORDS_TARGET}`,
      images.recorder(),
      `--config=${STANDIN_CONFIG_TARGET}`,
    ]);
  }

  private collectorConfig(file: 'agent.yaml' | 'gateway.yaml'): string[] {
    return ['-v', `${join(repoRoot, 'collector', file)}:/etc/otelcol-contrib/config.yaml:ro`];
  }

  private async createAgent(): Promise<void> {
    await this.create('agent', [
      '-p',
      `127.0.0.1:${PORTS.agentOtlpGrpc}:4317`,
      '-p',
      `127.0.0.1:${PORTS.agentOtlpHttp}:4318`,
      '-p',
      `127.0.0.1:${PORTS.agentMetrics}:8888`,
      '-p',
      `127.0.0.1:${PORTS.agentHealth}:13133`,
      ...this.collectorConfig('agent.yaml'),
      '-v',
      `${this.agentQueueDir}:/var/lib/otelcol/agent`,
      '-e',
      'OTELCOL_OTLP_GRPC_ENDPOINT=0.0.0.0:4317',
      '-e',
      'OTELCOL_OTLP_HTTP_ENDPOINT=0.0.0.0:4318',
      '-e',
      `OTELCOL_GATEWAY_HOSTNAME=${GATEWAY_ALIAS}`,
      '-e',
      'OTELCOL_GATEWAY_PORT=4317',
      '-e',
      'OTELCOL_STORAGE_DIR=/var/lib/otelcol/agent',
      '-e',
      'OTELCOL_HEALTH_ENDPOINT=0.0.0.0:13133',
      '-e',
      'OTELCOL_METRICS_HOST=0.0.0.0',
      '-e',
      'OTELCOL_METRICS_PORT=8888',
      '-e',
      'PROMETHEUS_URL=http://prometheus:9090',
      images.collector(),
    ]);
  }

  /** Starts the (stopped or killed) agent and waits for its health check. */
  async startAgent(): Promise<void> {
    await mustDocker(['start', `${PREFIX}agent`]);
    await this.waitHealthy(`http://127.0.0.1:${PORTS.agentHealth}/`, 'agent');
  }

  /** docker kill -s KILL: the agent dies without shutting down. */
  async killAgent(): Promise<void> {
    await mustDocker(['kill', '-s', 'KILL', `${PREFIX}agent`]);
    await mustDocker(['wait', `${PREFIX}agent`]);
  }

  async stopAgent(): Promise<void> {
    await mustDocker(['stop', '-t', '10', `${PREFIX}agent`]);
  }

  /** Creates (first call for `index`) or restarts gateway `index`, and waits for its health check. */
  async startGateway(index: number, options: GatewayOptions = {}): Promise<void> {
    const name = `gateway-${index}`;
    if (!this.gateways.has(index)) {
      const env = [
        'OTELCOL_OTLP_GRPC_ENDPOINT=0.0.0.0:4317',
        'OTELCOL_HEALTH_ENDPOINT=0.0.0.0:13133',
        'OTELCOL_METRICS_HOST=0.0.0.0',
        'OTELCOL_METRICS_PORT=8888',
        'OTELCOL_STORAGE_DIR=/var/lib/otelcol/gateway',
        'TEMPO_OTLP_GRPC_ENDPOINT=tempo:4317',
        'LOKI_URL=http://loki:3100',
        'PROMETHEUS_URL=http://prometheus:9090',
        ...(options.tailSamplingPercentage === undefined
          ? []
          : [`TAIL_SAMPLING_PERCENTAGE=${options.tailSamplingPercentage}`]),
      ];
      await this.create(name, [
        '--network-alias',
        GATEWAY_ALIAS,
        // HOSTNAME: host.name of the series it derives (their service.instance.id is new per start).
        '--hostname',
        `${PREFIX}${name}`,
        '-p',
        `127.0.0.1:${PORTS.gatewayHealth(index)}:13133`,
        '-p',
        `127.0.0.1:${PORTS.gatewayMetrics(index)}:8888`,
        ...this.collectorConfig('gateway.yaml'),
        '-v',
        `${this.queueDir(join(this.dir, `${name}-queue`))}:/var/lib/otelcol/gateway`,
        ...env.flatMap((e) => ['-e', e]),
        images.collector(),
      ]);
      this.gateways.set(index, `${PREFIX}${name}`);
    }
    await mustDocker(['start', `${PREFIX}${name}`]);
    await this.waitHealthy(`http://127.0.0.1:${PORTS.gatewayHealth(index)}/`, name);
  }

  /** Graceful stop (SIGTERM): the gateway's exporters keep their queues on disk. */
  async stopGateway(index: number): Promise<void> {
    await mustDocker(['stop', '-t', '30', `${PREFIX}gateway-${index}`], 60_000);
  }

  /** Stops and deletes gateway `index` (and its queue) so the index can be created anew. */
  async removeGateway(index: number): Promise<void> {
    await docker(['rm', '-f', '-v', `${PREFIX}gateway-${index}`]);
    rmSync(join(this.dir, `gateway-${index}-queue`), { recursive: true, force: true });
    this.gateways.delete(index);
  }

  async stopPrometheus(): Promise<void> {
    await mustDocker(['stop', '-t', '30', `${PREFIX}prometheus`], 60_000);
  }

  async startPrometheus(): Promise<void> {
    await mustDocker(['start', `${PREFIX}prometheus`]);
    await this.waitHealthy(`http://127.0.0.1:${PORTS.prometheus}/-/ready`, 'prometheus');
  }

  private async waitHealthy(url: string, what: string, timeoutMs = 60_000): Promise<void> {
    await poll(
      `${what} healthy at ${url}`,
      async (note) => {
        const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
        await response.arrayBuffer();
        note(`HTTP ${response.status}`);
        return response.ok ? true : undefined;
      },
      { timeoutMs, intervalMs: 200 },
    );
  }

  /** The agent's own metrics (:8888, Prometheus text). */
  async agentMetrics(): Promise<Map<string, number>> {
    const response = await fetch(`http://127.0.0.1:${PORTS.agentMetrics}/metrics`, {
      signal: AbortSignal.timeout(5000),
    });
    return parseExposition(await response.text());
  }

  /** Items waiting in the agent's persistent queue (all signals). */
  async agentQueueSize(): Promise<number> {
    return sumOf(await this.agentMetrics(), 'otelcol_exporter_queue_size');
  }

  /** The container's memory use as the engine reports it (cgroup usage less page cache), bytes. */
  async memoryBytes(container: string): Promise<number> {
    const stats = await engineGet<{
      memory_stats: { usage?: number; stats?: Record<string, number> };
    }>(`/containers/${PREFIX}${container}/stats?stream=false&one-shot=true`);
    const usage = stats.memory_stats.usage ?? 0;
    const cache = stats.memory_stats.stats?.inactive_file ?? 0;
    return usage - cache;
  }

  /** Every span the Tempo stand-in received so far. */
  spans(): ReceivedSpan[] {
    return this.records('tempo-traces.jsonl', this.spansRead, spansOf);
  }

  /** Every log record the Loki stand-in received so far. */
  logs(): ReceivedLog[] {
    return this.records('loki-logs.jsonl', this.logsRead, logsOf);
  }

  // The stand-ins only append, and their files grow to hundreds of megabytes over the scenarios:
  // each call parses only the complete lines written since the last one (a line being written is
  // left for the next call).
  private readonly spansRead = { offset: 0, items: [] as ReceivedSpan[] };
  private readonly logsRead = { offset: 0, items: [] as ReceivedLog[] };

  private records<T>(
    file: string,
    read: { offset: number; items: T[] },
    parse: (lines: string[]) => T[],
  ): T[] {
    let fd: number;
    try {
      fd = openSync(join(this.recordsDir, file), 'r');
    } catch {
      return [];
    }
    try {
      const size = fstatSync(fd).size;
      if (size > read.offset) {
        const chunk = Buffer.alloc(size - read.offset);
        const got = readSync(fd, chunk, 0, chunk.length, read.offset);
        const end = chunk.subarray(0, got).lastIndexOf(0x0a);
        if (end >= 0) {
          const lines = chunk.subarray(0, end).toString('utf8').split('\n').filter(Boolean);
          for (const item of parse(lines)) read.items.push(item);
          read.offset += end + 1;
        }
      }
    } finally {
      closeSync(fd);
    }
    return read.items.slice();
  }

  /** A container's log (stdout and stderr), for failure messages. */
  async containerLog(name: string, tail = 30): Promise<string> {
    const result = await docker(['logs', '--tail', String(tail), `${PREFIX}${name}`]);
    return `${result.stdout}${result.stderr}`;
  }

  /** Containers, network and volume of an earlier run that did not clean up (a killed test). */
  private async removeLeftovers(): Promise<void> {
    const names = (
      await mustDocker(['ps', '-a', '--filter', `name=^${PREFIX}`, '--format', '{{.Names}}'])
    )
      .split('\n')
      .filter(Boolean);
    if (names.length > 0) await docker(['rm', '-f', '-v', ...names]);
    await docker(['network', 'rm', network]);
    await docker(['volume', 'rm', prometheusVolume]);
  }

  /** Removes every container, the network, the volume and the temporary directory. */
  async down(): Promise<void> {
    const containers = [...new Set(this.created)];
    if (containers.length > 0) await docker(['rm', '-f', '-v', ...containers], 120_000);
    await docker(['network', 'rm', network]);
    await docker(['volume', 'rm', prometheusVolume]);
    if (process.env.NOS_KEEP_STACK_DATA !== '1') {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}
