// chart/ (the generic service chart, installed twice by helmfile.yaml): `helm lint --strict`, `helm
// template` with the default values, with the values of both helmfile releases and with custom values,
// assertions on the rendered objects, and the optional HPA, PodDisruptionBudget and NodePort Service.
// Needs helm (scripts/install-tools.sh helm): a failure under CI=true when it is missing.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../support/versions.ts';
import {
  run,
  chartDir,
  valuesFile,
  template,
  find,
  podSpec,
  container,
  envValue,
  setup,
} from './chart-render.ts';

describe('chart/ (nos-service)', () => {
  it('passes helm lint --strict with the default values and with each release values', async (t) => {
    const ctx = setup(t);
    if (!ctx) return;
    await run(ctx.helm, ['lint', '--strict', chartDir]);
    for (const release of ['api-gateway', 'user-service']) {
      const tag = valuesFile(ctx, `${release}-tag`, { image: { tag: '0.1.0-0123456789ab' } });
      await run(ctx.helm, [
        'lint',
        '--strict',
        chartDir,
        '-f',
        join(repoRoot, `values/${release}.yaml`),
        '-f',
        tag,
      ]);
    }
  });

  it('renders a hardened Deployment with probes, downward-API resource attributes and labels', async (t) => {
    const ctx = setup(t);
    if (!ctx) return;
    const objects = await template(ctx, 'api-gateway', ['--set', 'image.tag=1.2.3-abcdef012345']);
    assert.deepEqual(objects.map((o) => o.kind).sort(), [
      'Deployment',
      'Service',
      'ServiceAccount',
    ]);

    // Standard labels on every object; selectors select the pods.
    for (const object of objects) {
      const labels = object.metadata.labels ?? {};
      assert.equal(labels['app.kubernetes.io/name'], 'api-gateway', `${object.kind} name label`);
      assert.equal(
        labels['app.kubernetes.io/instance'],
        'api-gateway',
        `${object.kind} instance label`,
      );
      assert.equal(
        labels['app.kubernetes.io/version'],
        '1.2.3-abcdef012345',
        `${object.kind} version label`,
      );
      assert.equal(labels['app.kubernetes.io/part-of'], 'node-observability-stack');
      assert.equal(labels['app.kubernetes.io/managed-by'], 'Helm');
      assert.match(labels['helm.sh/chart'] ?? '', /^nos-service-\d+\.\d+\.\d+$/);
    }
    const deployment = find(objects, 'Deployment');
    const spec = deployment.spec as {
      selector: { matchLabels: Record<string, string> };
      template: { metadata: { labels: Record<string, string> } };
    };
    for (const [key, value] of Object.entries(spec.selector.matchLabels)) {
      assert.equal(
        spec.template.metadata.labels[key],
        value,
        `pod label ${key} matches the selector`,
      );
    }
    assert.ok(
      !('app.kubernetes.io/version' in spec.selector.matchLabels),
      'the selector must not change with the tag',
    );

    // Security: non-root uid 1000 (node), RuntimeDefault seccomp, read-only root, nothing to escalate.
    const pod = podSpec(objects);
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.runAsUser, 1000);
    assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
    assert.equal(pod.automountServiceAccountToken, false);
    assert.equal(pod.serviceAccountName, 'api-gateway');
    const c = container(objects);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.runAsNonRoot, true);
    assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
    assert.deepEqual((c.securityContext.seccompProfile as { type: string }).type, 'RuntimeDefault');
    // The read-only root filesystem leaves /tmp writable through an emptyDir.
    assert.ok(c.volumeMounts.some((m) => m.mountPath === '/tmp' && m.name === 'tmp'));
    assert.ok(pod.volumes.some((v) => v.name === 'tmp' && v.emptyDir));

    // Image from the tag; probes on the services' endpoints, on the named port.
    assert.equal(c.image, 'api-gateway:1.2.3-abcdef012345');
    assert.equal(c.name, 'api-gateway');
    assert.deepEqual(c.ports, [{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    assert.deepEqual(c.livenessProbe.httpGet, { path: '/healthz', port: 'http' });
    assert.deepEqual(c.readinessProbe.httpGet, { path: '/readyz', port: 'http' });
    assert.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory);

    // Graceful shutdown: preStop sleep, then the services drain up to 10 s (SHUTDOWN_TIMEOUT_MS) and
    // flush telemetry (bounded by 5 s): the grace period must cover all of it.
    const preStop = c.lifecycle?.preStop?.sleep?.seconds ?? 0;
    assert.ok(preStop > 0, 'a preStop sleep lets endpoint removal propagate before SIGTERM');
    assert.ok(
      pod.terminationGracePeriodSeconds >= preStop + 10 + 5,
      `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} < preStop ${preStop} + drain 10 + flush 5`,
    );

    // OpenTelemetry: collector endpoint, and the pod's identity from the downward API, declared before
    // OTEL_RESOURCE_ATTRIBUTES (the kubelet expands $(VAR) only from variables defined earlier).
    assert.equal(envValue(c, 'PORT'), '8080');
    assert.equal(
      envValue(c, 'OTEL_EXPORTER_OTLP_ENDPOINT'),
      'http://otel-agent.otel-agent.svc.cluster.local:4317',
    );
    const fieldRefs: Record<string, string> = {
      K8S_POD_NAME: 'metadata.name',
      K8S_NAMESPACE_NAME: 'metadata.namespace',
      K8S_NODE_NAME: 'spec.nodeName',
    };
    const names = c.env.map((e) => e.name);
    const attributesIndex = names.indexOf('OTEL_RESOURCE_ATTRIBUTES');
    for (const [name, fieldPath] of Object.entries(fieldRefs)) {
      const env = c.env.find((e) => e.name === name);
      assert.equal(env?.valueFrom?.fieldRef?.fieldPath, fieldPath, `${name} from the downward API`);
      assert.ok(
        names.indexOf(name) < attributesIndex,
        `${name} is declared before OTEL_RESOURCE_ATTRIBUTES`,
      );
    }
    const attributes = new Map(
      (envValue(c, 'OTEL_RESOURCE_ATTRIBUTES') ?? '')
        .split(',')
        .map((pair) => pair.split('=') as [string, string]),
    );
    assert.equal(attributes.get('service.version'), '1.2.3-abcdef012345');
    assert.equal(attributes.get('k8s.pod.name'), '$(K8S_POD_NAME)');
    assert.equal(attributes.get('k8s.namespace.name'), '$(K8S_NAMESPACE_NAME)');
    assert.equal(attributes.get('k8s.node.name'), '$(K8S_NODE_NAME)');
    assert.equal(attributes.get('deployment.environment.name'), 'kind');
    // service.name stays the one the service sets itself (dashboards and alerts select on it).
    assert.equal(envValue(c, 'OTEL_SERVICE_NAME'), undefined);
    // The project's telemetry package, unless the stock zero-code setup is asked for.
    assert.equal(envValue(c, 'TELEMETRY_MODE'), 'tuned');
    const stock = await template(ctx, 'api-gateway', ['--set', 'otel.mode=stock-esm']);
    assert.equal(envValue(container(stock), 'TELEMETRY_MODE'), 'stock-esm');

    // No autoscaler / disruption budget unless asked for; ClusterIP by default.
    const service = find(objects, 'Service').spec as {
      type: string;
      ports: { nodePort?: number }[];
    };
    assert.equal(service.type, 'ClusterIP');
    assert.equal(service.ports[0]?.nodePort, undefined);
  });

  it('renders the helmfile releases: api-gateway on NodePort 30080 calling user-service on 8081', async (t) => {
    const ctx = setup(t);
    if (!ctx) return;
    const tag = valuesFile(ctx, 'tag', { image: { tag: '0.1.0-0123456789ab' } });
    const gateway = await template(ctx, 'api-gateway', [
      '-f',
      join(repoRoot, 'values/api-gateway.yaml'),
      '-f',
      tag,
    ]);
    const users = await template(ctx, 'user-service', [
      '-f',
      join(repoRoot, 'values/user-service.yaml'),
      '-f',
      tag,
    ]);

    const gatewayService = find(gateway, 'Service');
    assert.equal(gatewayService.metadata.name, 'api-gateway');
    assert.deepEqual((gatewayService.spec as { type: string }).type, 'NodePort');
    assert.deepEqual((gatewayService.spec as { ports: unknown[] }).ports, [
      { name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP', nodePort: 30080 },
    ]);
    const userService = find(users, 'Service');
    assert.equal(userService.metadata.name, 'user-service');
    assert.equal((userService.spec as { type: string }).type, 'ClusterIP');
    const userPort = (userService.spec as { ports: { port: number }[] }).ports[0]?.port;
    assert.equal(userPort, 8081);
    assert.equal(envValue(container(users), 'PORT'), '8081');
    assert.equal(container(users).image, 'user-service:0.1.0-0123456789ab');

    // The gateway reaches user-service through that Service (name.namespace:port).
    const url = new URL(envValue(container(gateway), 'USER_SERVICE_URL') ?? '');
    assert.equal(url.hostname.split('.')[0], userService.metadata.name);
    assert.equal(url.hostname.split('.')[1], 'apps');
    assert.equal(Number(url.port), userPort);
  });

  it('renders the optional HPA and PodDisruptionBudget and a NodePort Service when asked', async (t) => {
    const ctx = setup(t);
    if (!ctx) return;
    const custom = valuesFile(ctx, 'custom', {
      image: {
        repository: 'registry.example.com/team/api-gateway',
        tag: '2.0.0',
        pullPolicy: 'Always',
      },
      service: { type: 'NodePort', port: 8080, nodePort: 31080 },
      autoscaling: {
        enabled: true,
        minReplicas: 2,
        maxReplicas: 5,
        targetCPUUtilizationPercentage: 70,
      },
      podDisruptionBudget: { enabled: true, minAvailable: 1 },
      env: { LOG_LEVEL: 'debug', USER_SERVICE_TIMEOUT_MS: 1500 },
      otel: {
        endpoint: 'http://collector.example:4317',
        resourceAttributes: { 'deployment.environment.name': 'staging' },
      },
      preStopSleepSeconds: 0,
    });
    await run(ctx.helm, ['lint', '--strict', chartDir, '-f', custom]);
    const objects = await template(ctx, 'edge', ['-f', custom]);

    const hpa = find(objects, 'HorizontalPodAutoscaler').spec as Record<string, unknown>;
    assert.equal(hpa.minReplicas, 2);
    assert.equal(hpa.maxReplicas, 5);
    assert.deepEqual(hpa.scaleTargetRef, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'edge',
    });
    // With an HPA the Deployment leaves replicas to it.
    assert.equal((find(objects, 'Deployment').spec as Record<string, unknown>).replicas, undefined);

    const pdb = find(objects, 'PodDisruptionBudget').spec as Record<string, unknown>;
    assert.equal(pdb.minAvailable, 1);
    assert.equal(pdb.maxUnavailable, undefined);

    const service = find(objects, 'Service').spec as {
      type: string;
      ports: { nodePort?: number }[];
    };
    assert.equal(service.type, 'NodePort');
    assert.equal(service.ports[0]?.nodePort, 31080);

    const c = container(objects);
    assert.equal(c.image, 'registry.example.com/team/api-gateway:2.0.0');
    assert.equal(envValue(c, 'LOG_LEVEL'), 'debug');
    assert.equal(envValue(c, 'USER_SERVICE_TIMEOUT_MS'), '1500');
    assert.equal(envValue(c, 'OTEL_EXPORTER_OTLP_ENDPOINT'), 'http://collector.example:4317');
    assert.match(
      envValue(c, 'OTEL_RESOURCE_ATTRIBUTES') ?? '',
      /(^|,)deployment\.environment\.name=staging(,|$)/,
    );
    assert.equal(c.lifecycle, undefined);

    // The default PDB (maxUnavailable 1) never blocks a node drain of a single replica.
    const defaults = await template(ctx, 'x', ['--set', 'podDisruptionBudget.enabled=true']);
    assert.deepEqual(
      (find(defaults, 'PodDisruptionBudget').spec as Record<string, unknown>).maxUnavailable,
      1,
    );
  });
});
