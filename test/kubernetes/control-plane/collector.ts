// The collector agent's k8s_attributes processor, the real otelcol with the committed agent
// configuration and the agent's own service-account token, enriching a record of a known pod.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { parse, stringify } from 'yaml';
import { freePorts } from '../../../scripts/lib/processes.ts';
import { startCollector } from '../../support/collector-process.ts';
import { context, nodeName } from '../../support/control-plane.ts';
import type { Yaml } from '../../support/kind-stack.ts';
import { OtlpReceiver } from '../../support/otlp-receiver.ts';
import { requireTool } from '../../support/tools.ts';
import { repoRoot } from '../../support/versions.ts';
import { cluster, grantAgentRole, namespace, rolledOut } from './cluster.ts';

export function collectorTests(): void {
  it('k8s_attributes of the real collector, with the agent service account, enriches a known pod', async (t) => {
    const cp = cluster(t);
    if (!cp) return;
    const otelcol = requireTool('otelcol') as string;
    await grantAgentRole(cp);
    const deployments = await rolledOut(cp);
    const [deployment, pods] =
      [...deployments].find(([d]) => d.metadata.name === 'api-gateway') ?? [];
    assert.ok(deployment && pods?.[0]);
    const pod = pods[0];

    // A kubeconfig with the agent's service-account token (TokenRequest): its RBAC, nobody else's.
    const token = (
      await cp.kubectlOk(['create', 'token', 'otel-agent', '-n', 'otel-agent'])
    ).trim();
    const admin = parse(readFileSync(cp.kubeconfig, 'utf8')) as { clusters: Yaml[] };
    const kubeconfig = join(cp.dir, 'otel-agent.kubeconfig');
    writeFileSync(
      kubeconfig,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: admin.clusters,
        users: [{ name: 'otel-agent', user: { token } }],
        contexts: [{ name: 'otel-agent', context: { cluster: context, user: 'otel-agent' } }],
        'current-context': 'otel-agent',
      }),
    );
    // The committed agent configuration; only where it finds the API server changes (a kubeconfig,
    // outside a pod, instead of the pod's mounted token).
    const overlay = join(cp.dir, 'agent-outside-a-pod.yaml');
    writeFileSync(
      overlay,
      stringify({
        processors: { k8s_attributes: { auth_type: 'kubeConfig', context: 'otel-agent' } },
      }),
    );
    const gateway = await OtlpReceiver.start();
    const prometheus: Server = createServer((_, res) => res.end());
    await new Promise<void>((resolve) => prometheus.listen(0, '127.0.0.1', resolve));
    const [grpc, http, health, metrics] = await freePorts(4);
    const storage = mkdtempSync(join(tmpdir(), 'nos-cp-agent-'));
    const collector = await startCollector(
      otelcol,
      [
        '--config',
        join(repoRoot, 'collector/agent.yaml'),
        '--config',
        join(repoRoot, 'collector/agent-k8s.yaml'),
        '--config',
        overlay,
      ],
      {
        KUBECONFIG: kubeconfig,
        K8S_NODE_NAME: nodeName,
        OTELCOL_GATEWAY_HOSTNAME: '127.0.0.1',
        OTELCOL_GATEWAY_PORT: String(gateway.port),
        OTELCOL_OTLP_GRPC_ENDPOINT: `127.0.0.1:${grpc}`,
        OTELCOL_OTLP_HTTP_ENDPOINT: `127.0.0.1:${http}`,
        OTELCOL_HEALTH_ENDPOINT: `127.0.0.1:${health}`,
        OTELCOL_METRICS_HOST: '127.0.0.1',
        OTELCOL_METRICS_PORT: String(metrics),
        PROMETHEUS_URL: `http://127.0.0.1:${(prometheus.address() as { port: number }).port}`,
        OTELCOL_STORAGE_DIR: storage,
        OTELCOL_POD_LOGS_DIR: join(storage, 'no-pods'),
      },
      `http://127.0.0.1:${health}/`,
    );
    t.after(async () => {
      await collector.stop();
      await gateway.stop();
      prometheus.close();
      rmSync(storage, { recursive: true, force: true });
    });

    // A log record of the api-gateway pod, known by its IP (the agent's first association rule).
    // Sent until one arrives enriched: the processor's pod cache fills asynchronously.
    const expected = {
      'k8s.namespace.name': namespace,
      'k8s.pod.name': pod.metadata.name,
      'k8s.pod.uid': pod.metadata.uid,
      'k8s.pod.start_time': pod.status.startTime,
      'k8s.deployment.name': deployment.metadata.name,
      'k8s.node.name': nodeName,
    };
    let sent = 0;
    const enriched = await cp.until('a record enriched with the pod attributes', async () => {
      sent++;
      const body = {
        resourceLogs: [
          {
            resource: {
              attributes: [{ key: 'k8s.pod.ip', value: { stringValue: pod.status.podIP } }],
            },
            scopeLogs: [{ logRecords: [{ body: { stringValue: `record ${sent}` } }] }],
          },
        ],
      };
      const response = await fetch(`http://127.0.0.1:${http}/v1/logs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
      await response.arrayBuffer();
      return gateway.logs.find((l) => l.resource['k8s.pod.uid'] !== undefined);
    });
    const actual = Object.fromEntries(Object.keys(expected).map((k) => [k, enriched.resource[k]]));
    assert.deepEqual(actual, expected, collector.tail());
    assert.doesNotMatch(
      collector.output.join('\n'),
      /forbidden/i,
      'no RBAC refusal in the agent log',
    );
  });
}
