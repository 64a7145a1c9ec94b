// The kind stack's ports (kind port mappings = NodePorts = the URLs printed by scripts/up.sh and
// docs/kind.md), its Prometheus settings and alert rules, and its resource footprint.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  at,
  kindPortMappings,
  parseQuantity,
  readYaml,
  release,
  releaseValue,
  type Release,
  type Yaml,
} from '../support/kind-stack.ts';
import { requireTool } from '../support/tools.ts';
import { repoRoot } from '../support/versions.ts';
import {
  run,
  helmfile,
  read,
  kps,
  gateway,
  agent,
  services,
  collectorService,
  clusterUrl,
} from './helmfile-stack.ts';

describe('ports', () => {
  it('kind port mappings = NodePorts of the values = URLs printed by up.sh and docs/kind.md', () => {
    const expected: [string, number, unknown][] = [
      ['api-gateway', 8080, releaseValue(release(helmfile, 'api-gateway'), 'service.nodePort')],
      ['Grafana', 3000, releaseValue(kps, 'grafana.service.nodePort')],
      ['Prometheus', 9090, releaseValue(kps, 'prometheus.service.nodePort')],
    ];
    assert.equal(releaseValue(release(helmfile, 'api-gateway'), 'service.type'), 'NodePort');
    assert.equal(releaseValue(kps, 'grafana.service.type'), 'NodePort');
    assert.equal(releaseValue(kps, 'prometheus.service.type'), 'NodePort');
    const mappings = kindPortMappings();
    assert.equal(mappings.length, expected.length, 'one mapping per exposed service, nothing else');
    const upScript = read('scripts/up.sh');
    const kindDoc = read('docs/kind.md');
    for (const [what, hostPort, nodePort] of expected) {
      assert.equal(typeof nodePort, 'number', `${what} has a fixed NodePort`);
      assert.ok(
        (nodePort as number) >= 30000 && (nodePort as number) <= 32767,
        `${what} NodePort in range`,
      );
      const mapping = mappings.find((m) => m.hostPort === hostPort);
      assert.ok(mapping, `kind-config.yaml maps localhost:${hostPort} (${what})`);
      assert.equal(mapping.containerPort, nodePort, `localhost:${hostPort} -> NodePort of ${what}`);
      assert.equal(mapping.listenAddress, '127.0.0.1', `${what} only on localhost`);
      assert.ok(
        upScript.includes(`http://localhost:${hostPort}`),
        `up.sh prints http://localhost:${hostPort}`,
      );
      assert.ok(
        kindDoc.includes(`http://localhost:${hostPort}`),
        `docs/kind.md shows http://localhost:${hostPort}`,
      );
    }
  });

  it('point the services and the collector at Services that the releases create', () => {
    // The services send to the agents' Service (the agent of their own node: internalTrafficPolicy Local).
    for (const r of services) {
      const endpoint = clusterUrl(String(releaseValue(r, 'otel.endpoint')));
      assert.deepEqual(endpoint, { ...collectorService(agent), port: 4317 }, r.name);
    }
    const users = release(helmfile, 'user-service');
    const url = clusterUrl(
      String(releaseValue(release(helmfile, 'api-gateway'), 'env.USER_SERVICE_URL')),
    );
    assert.deepEqual(url, {
      service: users.name,
      namespace: users.namespace,
      port: releaseValue(users, 'service.port'),
    });
    assert.equal(releaseValue(users, 'containerPort'), 8081);
    // The public edge records every request; user-service follows it (ParentBased, the default).
    assert.equal(
      releaseValue(release(helmfile, 'api-gateway'), 'env.OTEL_TRACES_SAMPLER'),
      'always_on',
    );
    assert.equal(releaseValue(users, 'env.OTEL_TRACES_SAMPLER'), undefined);
    assert.equal(releaseValue(release(helmfile, 'api-gateway'), 'containerPort'), 8080);
  });
});

describe('Prometheus', () => {
  it('receives OTLP with exemplars and the promoted attributes the rules and dashboards use', () => {
    const spec = (releaseValue(kps, 'prometheus.prometheusSpec') ?? {}) as Yaml;
    assert.equal(spec.enableOTLPReceiver, true);
    assert.equal(spec.enableRemoteWriteReceiver, true);
    assert.ok((spec.enableFeatures as string[]).includes('exemplar-storage'));
    const promoted = (at(spec, 'otlp.promoteResourceAttributes') ?? []) as string[];
    assert.ok(
      promoted.includes('service.name'),
      'service_name label (alerts, dashboards, tracesToMetrics)',
    );
    // Same promotions as the local Prometheus (backends/prometheus.yaml), when that file pins any.
    if (existsSync(join(repoRoot, 'backends/prometheus.yaml'))) {
      const local = (at(readYaml('backends/prometheus.yaml'), 'otlp.promote_resource_attributes') ??
        []) as string[];
      for (const attribute of local)
        assert.ok(promoted.includes(attribute), `kind promotes ${attribute} too`);
    }
    assert.match(
      String(at(spec, 'tsdb.outOfOrderTimeWindow')),
      /^[1-9]\d*[smh]$/,
      'out-of-order window for OTLP batches',
    );
  });

  it('has the kind fixes: no root fs mount for node-exporter, no unreachable control-plane scrapes', () => {
    assert.equal(releaseValue(kps, 'prometheus-node-exporter.hostRootFsMount.enabled'), false);
    for (const component of ['kubeControllerManager', 'kubeScheduler', 'kubeEtcd', 'kubeProxy']) {
      assert.equal(releaseValue(kps, `${component}.enabled`), false, component);
    }
  });

  it('alert rules are valid and fire in the incident scenario (promtool)', async (t) => {
    const rules = readYaml<{ groups: { rules: Yaml[] }[] }>('values/prometheus-rules.yaml');
    const alerts = rules.groups.flatMap((g) => g.rules).filter((r) => r.alert);
    assert.deepEqual(alerts.map((a) => a.alert).sort(), [
      'ApiGatewayHighErrorRate',
      'ApiGatewayHighLatency',
    ]);
    for (const alert of alerts) {
      assert.ok(alert.for, `${String(alert.alert)} has a for:`);
      assert.ok(at(alert, 'labels.severity'), `${String(alert.alert)} has a severity`);
      assert.ok(at(alert, 'annotations.summary') && at(alert, 'annotations.description'));
    }
    assert.ok(
      read('values/kube-prometheus-stack.files.yaml.gotmpl').includes(
        'readFile "prometheus-rules.yaml"',
      ),
    );
    const promtool = requireTool('promtool', t);
    if (!promtool) return;
    await run(promtool, ['check', 'rules', join(repoRoot, 'values/prometheus-rules.yaml')]);
    await run(promtool, [
      'test',
      'rules',
      join(repoRoot, 'test/config/prometheus-rules.promtool.yaml'),
    ]);
  });
});

describe('footprint', () => {
  it('stays under 4 CPUs and 6 GiB of limits (requests and limits on every container)', (t) => {
    const chartDefaults = readYaml('chart/values.yaml');
    const fromChart = (r: Release, path: string) =>
      releaseValue(r, path) ?? at(chartDefaults, path);
    // One pod of each DaemonSet per node of kind-config.yaml.
    const nodes = ((readYaml('kind-config.yaml').nodes ?? []) as unknown[]).length;
    const gateways = Number(releaseValue(gateway, 'replicaCount'));
    const containers: [string, unknown, number?][] = [
      ['prometheus', releaseValue(kps, 'prometheus.prometheusSpec.resources')],
      [
        'prometheus config-reloader',
        releaseValue(kps, 'prometheusOperator.prometheusConfigReloader.resources'),
      ],
      ['prometheus-operator', releaseValue(kps, 'prometheusOperator.resources')],
      ['kube-state-metrics', releaseValue(kps, 'kube-state-metrics.resources')],
      ['node-exporter (per node)', releaseValue(kps, 'prometheus-node-exporter.resources'), nodes],
      ['grafana', releaseValue(kps, 'grafana.resources')],
      ['grafana dashboard sidecar', releaseValue(kps, 'grafana.sidecar.resources')],
      ['loki', releaseValue(release(helmfile, 'loki'), 'singleBinary.resources')],
      ['tempo', releaseValue(release(helmfile, 'tempo'), 'tempo.resources')],
      ['otel-gateway (per replica)', releaseValue(gateway, 'resources'), gateways],
      ['otel-agent (per node)', releaseValue(agent, 'resources'), nodes],
      ['api-gateway', fromChart(release(helmfile, 'api-gateway'), 'resources')],
      ['user-service', fromChart(release(helmfile, 'user-service'), 'resources')],
    ];
    const sum = { requests: { cpu: 0, memory: 0 }, limits: { cpu: 0, memory: 0 } };
    assert.ok(nodes >= 1 && gateways >= 1);
    for (const [name, resources, count = 1] of containers) {
      for (const kind of ['requests', 'limits'] as const) {
        for (const resource of ['cpu', 'memory'] as const) {
          const quantity = at(resources, `${kind}.${resource}`);
          assert.ok(quantity !== undefined, `${name}: ${kind}.${resource} is set`);
          sum[kind][resource] += count * parseQuantity(quantity as string);
        }
      }
    }
    const gib = (bytes: number) => (bytes / 2 ** 30).toFixed(2);
    t.diagnostic(`requests: ${sum.requests.cpu.toFixed(2)} CPU, ${gib(sum.requests.memory)} GiB`);
    t.diagnostic(`limits:   ${sum.limits.cpu.toFixed(2)} CPU, ${gib(sum.limits.memory)} GiB`);
    assert.ok(sum.limits.cpu <= 4, `CPU limits ${sum.limits.cpu} > 4`);
    assert.ok(sum.limits.memory <= 6 * 2 ** 30, `memory limits ${gib(sum.limits.memory)} GiB > 6`);
    // The caches Loki would add by default (memcached, ~1.5 GiB) stay off.
    assert.equal(releaseValue(release(helmfile, 'loki'), 'chunksCache.enabled'), false);
    assert.equal(releaseValue(release(helmfile, 'loki'), 'resultsCache.enabled'), false);
  });
});
