// The agent's pod log collection (collector/agent-k8s.yaml: file_log/pods and the logs/pods pipeline)
// with the real collector binary: container log files in the kubelet's layout and the CRI format, as
// a node has them, become one log record per line, exactly once and in order, with the pod's identity;
// split lines, rotation, container restarts and an agent restart included. The agent exports to an
// in-process OTLP receiver standing in for the gateway.
// Needs otelcol (scripts/install-tools.sh): a failure under CI=true when missing.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { gzipSync } from 'node:zlib';
import { parse, stringify } from 'yaml';
import { startCollector, type CollectorProcess } from '../support/collector-process.ts';
import { pinnedVersion } from '../support/versions.ts';
import {
  ContainerLogWriter,
  criTime,
  FakeClock,
  instanceKey,
  type Container,
  type ExpectedRecord,
  type Stream,
  type WrittenRecord,
} from '../support/cri-logs.ts';
import { OtlpReceiver } from '../support/otlp-receiver.ts';
import { requireTool } from '../support/tools.ts';
import { repoRoot } from '../support/versions.ts';

const agentConfig = join(repoRoot, 'collector', 'agent.yaml');
const k8sConfig = join(repoRoot, 'collector', 'agent-k8s.yaml');

const ports = {
  gateway: 23411,
  grpc: 23412,
  http: 23413,
  health: 23414,
  metrics: 23415,
  prometheus: 23416,
};

const tempDirs: string[] = [];
let receiver: OtlpReceiver;
let prometheus: Server;
let overlay: string;

function tempDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `nos-podlogs-${name}-`));
  tempDirs.push(dir);
  return dir;
}

/**
 * The test's third config: the OTLP pipelines without k8s_attributes, which needs an API server.
 * Everything else, the pod log part included, is the committed configuration.
 */
function writeOverlay(): string {
  type Pipelines = Record<string, { processors?: string[] }>;
  const k8s = parse(readFileSync(k8sConfig, 'utf8')) as { service: { pipelines: Pipelines } };
  const pipelines: Pipelines = {};
  for (const [name, pipeline] of Object.entries(k8s.service.pipelines)) {
    if (!pipeline.processors?.includes('k8s_attributes')) continue;
    pipelines[name] = { processors: pipeline.processors.filter((p) => p !== 'k8s_attributes') };
  }
  assert.deepEqual(Object.keys(pipelines).sort(), ['logs', 'metrics', 'traces']);
  const path = join(tempDir('config'), 'without-k8s-api.yaml');
  writeFileSync(path, stringify({ service: { pipelines } }));
  return path;
}

async function startAgent(
  t: TestContext,
  podLogsDir: string,
  storageDir: string,
): Promise<CollectorProcess> {
  const otelcol = requireTool('otelcol');
  const collector = await startCollector(
    otelcol as string,
    ['--config', agentConfig, '--config', k8sConfig, '--config', overlay],
    {
      // An address, not "localhost": that may also resolve to ::1, where no gateway listens, and the
      // load balancer would route part of the data there.
      OTELCOL_GATEWAY_HOSTNAME: '127.0.0.1',
      OTELCOL_GATEWAY_PORT: String(ports.gateway),
      OTELCOL_OTLP_GRPC_ENDPOINT: `127.0.0.1:${ports.grpc}`,
      OTELCOL_OTLP_HTTP_ENDPOINT: `127.0.0.1:${ports.http}`,
      OTELCOL_HEALTH_ENDPOINT: `127.0.0.1:${ports.health}`,
      OTELCOL_METRICS_HOST: '127.0.0.1',
      OTELCOL_METRICS_PORT: String(ports.metrics),
      PROMETHEUS_URL: `http://127.0.0.1:${ports.prometheus}`,
      OTELCOL_STORAGE_DIR: storageDir,
      OTELCOL_POD_LOGS_DIR: podLogsDir,
      // Validated although no pipeline uses k8s_attributes here (the DaemonSet sets it).
      K8S_NODE_NAME: 'node-1',
    },
    `http://127.0.0.1:${ports.health}/`,
  );
  t.after(() => collector.stop());
  return collector;
}

/** kube-system, observability: collected. apps (logs over OTLP) and otel-agent: excluded. */
const pods = {
  coredns: {
    namespace: 'kube-system',
    pod: 'coredns-7db6d8ff4d-6bq2x',
    uid: '0f6c1a52-4d7e-4a8b-9c3e-2b1d5e7f9a01',
    container: 'coredns',
  },
  kubeProxy: {
    namespace: 'kube-system',
    pod: 'kube-proxy-q8w7r',
    uid: '5b2e9d41-7c3a-4f60-8e1b-a4d3c2b1f0e9',
    container: 'kube-proxy',
  },
  loki: {
    namespace: 'observability',
    pod: 'loki-0',
    uid: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d',
    container: 'loki',
  },
  lokiSidecar: {
    namespace: 'observability',
    pod: 'loki-0',
    uid: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d',
    container: 'loki-sc-rules',
  },
  apiGateway: {
    namespace: 'apps',
    pod: 'api-gateway-6f9c7b8d5-k2m4p',
    uid: 'c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f',
    container: 'api-gateway',
  },
  agent: {
    namespace: 'otel-agent',
    pod: 'otel-agent-x7k2p',
    uid: 'd1e2f3a4-b5c6-4d7e-9f80-a1b2c3d4e5f6',
    container: 'otel-agent',
  },
} satisfies Record<string, Container>;

const excludedNamespaces = new Set(['apps', 'otel-agent']);

/** What the collector must have emitted, per container instance, from what the writers wrote. */
function expectedOf(writers: ContainerLogWriter[]): Record<string, WrittenRecord[]> {
  const expected: Record<string, WrittenRecord[]> = {};
  for (const w of writers) {
    if (excludedNamespaces.has(w.container.namespace)) continue;
    expected[w.key] = [...(expected[w.key] ?? []), ...w.expected];
  }
  return expected;
}

const count = (records: Record<string, ExpectedRecord[]>): number =>
  Object.values(records).reduce((n, r) => n + r.length, 0);

/** What the receiver got, per container instance (from the resource attributes), in arrival order. */
function receivedRecords(): Record<string, ExpectedRecord[]> {
  const received: Record<string, ExpectedRecord[]> = {};
  for (const log of receiver.logs) {
    const r = log.resource;
    const container: Container = {
      namespace: String(r['k8s.namespace.name']),
      pod: String(r['k8s.pod.name']),
      uid: String(r['k8s.pod.uid']),
      container: String(r['k8s.container.name']),
    };
    assert.equal(r['service.name'], container.container, 'service.name is the container name');
    assert.match(String(r['k8s.container.restart_count']), /^\d+$/);
    const key = instanceKey(container, Number(r['k8s.container.restart_count']));
    (received[key] ??= []).push({
      stream: log.attributes['log.iostream'] as Stream,
      body: String(log.body),
      timeUnixNano: log.timeUnixNano,
    });
  }
  return received;
}

const byTime = (a: ExpectedRecord, b: ExpectedRecord): number =>
  a.timeUnixNano < b.timeUnixNano ? -1 : a.timeUnixNano > b.timeUnixNano ? 1 : 0;

/**
 * Waits until as many records arrived as the writers wrote, then a while longer (a duplicate would
 * arrive within a few polls and batches), and compares: every line once, nothing else, and the
 * lines of each file in the order written. (Files are read in parallel: a rotated file and its
 * successor may interleave; the record times keep the order for the backend.)
 */
async function assertDelivered(writers: ContainerLogWriter[], settleMs = 1500): Promise<void> {
  const expected = expectedOf(writers);
  const total = count(expected);
  await receiver.waitFor(() => receiver.logs.length >= total, {
    timeoutMs: 30_000,
    what: `${total} pod log records`,
  });
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  const received = receivedRecords();
  for (const key of Object.keys(received)) {
    assert.ok(
      !excludedNamespaces.has(key.split('/')[0] ?? ''),
      `collected an excluded pod: ${key}`,
    );
  }
  assert.deepEqual(Object.keys(received).sort(), Object.keys(expected).sort());
  for (const [key, written] of Object.entries(expected)) {
    const got = received[key] ?? [];
    const records = written.map(({ stream, body, timeUnixNano }) => ({
      stream,
      body,
      timeUnixNano,
    }));
    assert.deepEqual([...got].sort(byTime), records, `${key}: every line exactly once`);
    for (const file of new Set(written.map((r) => r.file))) {
      const bodies = written.filter((r) => r.file === file).map((r) => r.body);
      const inFile = new Set(bodies);
      assert.deepEqual(
        got.filter((r) => inFile.has(r.body)).map((r) => r.body),
        bodies,
        `${key}: file ${file} in order`,
      );
    }
  }
  assert.equal(receiver.logs.length, total);
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

before(async () => {
  receiver = await OtlpReceiver.start(ports.gateway);
  // Takes the agent's own metrics: a failed last push at shutdown would make the exit code 1.
  prometheus = createServer((request, response) => {
    request.resume();
    request.on('end', () => response.writeHead(200).end());
  });
  prometheus.listen(ports.prometheus, '127.0.0.1');
  await once(prometheus, 'listening');
  overlay = writeOverlay();
});

after(async () => {
  await receiver?.stop();
  prometheus?.close();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function skipWithoutCollector(t: TestContext): boolean {
  return requireTool('otelcol', t) === undefined;
}

describe('agent pod logs', () => {
  test(
    'every container line of the collected namespaces arrives once, in order, with the pod identity',
    {
      timeout: 180_000,
    },
    async (t) => {
      if (skipWithoutCollector(t)) return;
      receiver.logs.length = 0;
      const root = tempDir('pods');
      const clock = new FakeClock(new Date('2026-01-15T10:00:00Z'));
      const coredns = new ContainerLogWriter(root, pods.coredns, clock);
      const loki = new ContainerLogWriter(root, pods.loki, clock);
      const sidecar = new ContainerLogWriter(root, pods.lokiSidecar, clock);
      const apiGateway = new ContainerLogWriter(root, pods.apiGateway, clock);
      const agentSelf = new ContainerLogWriter(root, pods.agent, clock);
      const writers = [coredns, loki, sidecar, apiGateway, agentSelf];

      // What the node has before the agent starts (start_at: beginning reads it all).
      coredns
        .line('stdout', '.:53')
        .line('stdout', 'CoreDNS-1.11.3')
        .line('stderr', '[WARNING] plugin/kubernetes: starting server with unsynced Kubernetes API')
        .line('stderr', '    at indented continuation, kept as written  ')
        // containerd splits lines longer than 16 KiB.
        .split('stdout', ['a'.repeat(16_384), 'b'.repeat(16_384), ' end of a long line'])
        .line('stdout', '[INFO] 10.244.0.5:41234 - 1 "A IN user-service.apps. udp 35" NOERROR');
      loki
        .line('stdout', 'level=info msg="Loki started" version=3.5.0')
        .split('stderr', ['level=warn msg="a line ', 'written in ', 'three parts"']);
      sidecar.line('stdout', '{"level":"INFO","msg":"Starting collector"}');
      // Rotated before the agent started: the renamed file is read as well as the new one, and an
      // older, compressed rotation is not read at all.
      sidecar.rotate(new Date('2026-01-15T09:59:00Z'));
      sidecar.reopen();
      sidecar.line('stdout', '{"level":"INFO","msg":"after a rotation before the agent started"}');
      writeFileSync(
        `${sidecar.path}.20260115-095000.gz`,
        gzipSync(`${criTime(1n)} stdout F compressed, never read\n`),
      );
      apiGateway.line('stdout', '{"level":30,"msg":"listening"}');
      agentSelf.line(
        'stderr',
        `info service@v${pinnedVersion('OTELCOL_VERSION')}/service.go:1 Everything is ready.`,
      );

      await startAgent(t, root, tempDir('storage'));
      await assertDelivered(writers);

      // Lines written while the agent runs; a split line whose end comes a few polls later.
      coredns.line('stdout', '[INFO] plugin/reload: Running configuration SHA512 = 0a1b2c');
      const unfinished = loki.begin('stdout', ['level=info msg="flushing ', 'chunks" ']);
      apiGateway.line('stdout', '{"level":30,"msg":"request completed"}');
      agentSelf.line('stderr', 'info exporter sent a batch');
      await pause(700);
      unfinished.finish(['count=12']);
      sidecar.line('stderr', '{"level":"WARN","msg":"retrying"}');
      await assertDelivered(writers);

      // The kubelet rotates: lines the agent has not read yet, the rename, a line the runtime writes
      // into the renamed file before it reopens, the new file. The same for an excluded pod.
      coredns.line('stdout', 'before rotation 1').line('stderr', 'before rotation 2');
      apiGateway.line('stdout', '{"level":30,"msg":"before rotation"}');
      coredns.rotate(new Date('2026-01-15T10:05:00Z'));
      apiGateway.rotate(new Date('2026-01-15T10:05:00Z'));
      coredns.line('stdout', 'written to the renamed file before the reopen');
      apiGateway.line('stdout', '{"level":30,"msg":"into the renamed file"}');
      coredns.reopen();
      apiGateway.reopen();
      coredns.line('stdout', 'after rotation 1').line('stdout', 'after rotation 2');
      apiGateway.line('stdout', '{"level":30,"msg":"after rotation"}');
      await assertDelivered(writers);
      coredns.line('stderr', 'after rotation 3');
      await assertDelivered(writers);

      // A runtime that takes a while to reopen: it writes into the renamed file for several polls.
      loki.line('stdout', 'before a slow reopen');
      loki.rotate(new Date('2026-01-15T10:10:00Z'));
      await pause(700);
      loki.line('stdout', 'into the renamed file, polls after the rename');
      await pause(700);
      loki.reopen();
      loki.line('stdout', 'after a slow reopen');
      await assertDelivered(writers);

      // loki's container restarts: the runtime writes 1.log next to 0.log.
      const lokiAgain = loki.restarted(root);
      writers.push(lokiAgain);
      lokiAgain.line('stdout', 'level=info msg="Loki started" restart=1');
      await assertDelivered(writers);
    },
  );

  test(
    'after an agent restart only the lines written meanwhile arrive (offsets persisted)',
    {
      timeout: 180_000,
    },
    async (t) => {
      if (skipWithoutCollector(t)) return;
      receiver.logs.length = 0;
      const root = tempDir('pods');
      const storage = tempDir('storage');
      const clock = new FakeClock(new Date('2026-01-16T08:00:00Z'));
      const coredns = new ContainerLogWriter(root, pods.coredns, clock);
      const loki = new ContainerLogWriter(root, pods.loki, clock);
      const apiGateway = new ContainerLogWriter(root, pods.apiGateway, clock);
      const writers = [coredns, loki, apiGateway];
      coredns.line('stdout', 'first run 1').line('stderr', 'first run 2');
      loki.split('stdout', ['first ', 'run ', 'split']);
      apiGateway.line('stdout', 'never collected');

      const first = await startAgent(t, root, storage);
      await assertDelivered(writers);
      assert.equal(await first.stop(), 0, first.tail());

      // While the agent is down (a DaemonSet rollout): more lines, a rotation, a new pod.
      coredns.line('stdout', 'while down 1').line('stdout', 'while down 2');
      coredns.rotate(new Date('2026-01-16T08:01:00Z'));
      coredns.reopen();
      coredns.line('stdout', 'while down, after the rotation');
      loki.split('stderr', ['while ', 'down']);
      apiGateway.line('stdout', 'never collected either');
      const kubeProxy = new ContainerLogWriter(root, pods.kubeProxy, clock);
      writers.push(kubeProxy);
      kubeProxy.line('stderr', 'I0116 08:00:01 server.go:1 "Starting kube-proxy"');

      await startAgent(t, root, storage);
      await assertDelivered(writers, 3000);
    },
  );
});
