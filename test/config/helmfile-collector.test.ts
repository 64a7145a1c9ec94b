// The kind stack's collector in two tiers (agents and gateways): configs, addresses, Services,
// volumes and environment, as the helmfile values declare them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import {
  at,
  readYaml,
  releaseEnvs,
  releaseValue,
  releaseValues,
  type Yaml,
} from '../support/kind-stack.ts';
import {
  helmfile,
  read,
  gateway,
  agent,
  services,
  mergeCollectorConfig,
  envValue,
  envField,
  envPlaceholders,
  openPorts,
  volumes,
  mounts,
  collectorService,
} from './helmfile-stack.ts';

describe('OpenTelemetry Collector', () => {
  // What each tier runs: the files of its --config flags, merged as the collector merges them.
  const tiers = [
    { release: gateway, files: ['collector/gateway.yaml'] },
    { release: agent, files: ['collector/agent.yaml', 'collector/agent-k8s.yaml'] },
  ].map((tier) => ({
    ...tier,
    config: tier.files
      .map((file) => parse(read(file)) as Yaml)
      .reduce<Yaml>((all, config) => mergeCollectorConfig(all, config) as Yaml, {}),
  }));
  const builder = readYaml('collector/builder-config.yaml');
  // Component type -> module: "k8s_attributes" -> .../k8sattributesprocessor; otlp_grpc is otlpexporter.
  const aliases: Record<string, string> = { otlpgrpc: 'otlp' };
  const built = (kind: string) =>
    new Set(
      ((builder[kind] ?? []) as { gomod: string }[]).map((c) => {
        const module = (c.gomod.split(' ')[0] as string).split('/').pop() as string;
        return module.replace(new RegExp(`${kind.replace(/s$/, '')}$`), '');
      }),
    );
  const kinds = ['receivers', 'processors', 'exporters', 'connectors', 'extensions'];
  type Pipelines = Record<string, Record<string, string[]>>;

  it('configs parse, use only defined components, all in the builder manifest', () => {
    for (const { release: r, files, config } of tiers) {
      for (const file of files) {
        // Each goes through the chart's `tpl` (relay.yaml, the agent-k8s ConfigMap).
        assert.ok(!read(file).includes('{{'), `${file} must not contain "{{"`);
      }
      const pipelines = at(config, 'service.pipelines') as Pipelines;
      const used = new Map<string, Set<string>>(kinds.map((k) => [k, new Set()]));
      for (const [name, pipeline] of Object.entries(pipelines)) {
        for (const kind of ['receivers', 'processors', 'exporters']) {
          for (const id of pipeline[kind] ?? []) {
            const defined = Object.keys((config[kind] ?? {}) as Yaml).includes(id);
            const connector =
              kind !== 'processors' && Object.keys((config.connectors ?? {}) as Yaml).includes(id);
            assert.ok(defined || connector, `${r.name} pipeline ${name}: ${kind} ${id} is defined`);
            used.get(connector && !defined ? 'connectors' : kind)?.add(id);
          }
        }
      }
      for (const id of (at(config, 'service.extensions') ?? []) as string[])
        used.get('extensions')?.add(id);
      // Everything a tier's files define is used (no preset of the chart adds anything: see below).
      for (const kind of kinds) {
        for (const id of Object.keys((config[kind] ?? {}) as Yaml)) {
          assert.ok(used.get(kind)?.has(id), `${r.name}: ${kind} ${id} is used in a pipeline`);
        }
      }
      for (const [kind, ids] of used) {
        const modules = built(kind);
        for (const id of ids) {
          const type = (id.split('/')[0] as string).replaceAll('_', '');
          assert.ok(
            modules.has(aliases[type] ?? type),
            `${r.name}: ${kind} ${id} is built (collector/builder-config.yaml)`,
          );
        }
      }
      // Every pipeline fed by the OTLP receiver refuses data first when memory runs short.
      for (const [name, pipeline] of Object.entries(pipelines)) {
        if ((pipeline.receivers ?? []).some((id) => !(id in ((config.connectors ?? {}) as Yaml))))
          assert.equal(pipeline.processors?.[0], 'memory_limiter', `${r.name} ${name}`);
      }
      // The pipeline is the repository's files alone: no chart preset writes components into it.
      const presets = (releaseValue(r, 'presets') ?? {}) as Record<string, Yaml>;
      for (const [name, preset] of Object.entries(presets))
        assert.notEqual(preset.enabled, true, `${r.name}: preset ${name} is off`);
    }
    // The agent's overlay puts k8s_attributes after memory_limiter and before batch on what the
    // services send (batching loses the client address); the pod logs need no API lookups.
    const agentPipelines = at(tiers[1]?.config, 'service.pipelines') as Pipelines;
    for (const name of ['traces', 'metrics', 'logs']) {
      const processors = agentPipelines[name]?.processors ?? [];
      assert.deepEqual(processors, ['memory_limiter', 'k8s_attributes', 'batch'], name);
    }
    assert.deepEqual(agentPipelines['logs/pods']?.receivers, ['file_log/pods']);
    assert.ok(!agentPipelines['logs/pods']?.processors?.includes('k8s_attributes'));
  });

  it('gets an address for every ${env:...} of its config in the cluster', () => {
    // The :8888 pull endpoint of the collectors' own metrics may stay on localhost (they are pushed);
    // the tail-sampling knobs keep their defaults (every trace kept).
    const defaultsKept = new Set([
      'OTELCOL_METRICS_HOST',
      'OTELCOL_METRICS_PORT',
      'TAIL_SAMPLING_PERCENTAGE',
      'TAIL_SAMPLING_LATENCY_THRESHOLD_MS',
    ]);
    for (const { release: r, files, config } of tiers) {
      const envs = releaseEnvs(r);
      const names = envPlaceholders(config);
      assert.ok(names.size > 5, `${files.join(' + ')} read their addresses from the environment`);
      for (const name of names) {
        if (defaultsKept.has(name)) continue;
        const env = envs.get(name);
        assert.ok(env?.value || env?.valueFrom, `values/${r.name}.yaml sets ${name}`);
      }
      for (const name of ['OTELCOL_OTLP_GRPC_ENDPOINT', 'OTELCOL_HEALTH_ENDPOINT']) {
        assert.match(
          envValue(r, name),
          /^0\.0\.0\.0:\d+$/,
          `${r.name}: ${name} on every interface`,
        );
      }
      // The chart's liveness/readiness probes call the health_check extension on 13133.
      assert.equal(envValue(r, 'OTELCOL_HEALTH_ENDPOINT'), '0.0.0.0:13133', r.name);
      // The chart renders its files: alternateConfig from the repository, no chart default config.
      const template = read(`values/${r.name}.config.yaml.gotmpl`);
      assert.match(
        template,
        new RegExp(`alternateConfig:\\n\\{\\{ readFile "\\.\\./${files[0]?.replace('.', '\\.')}"`),
      );
    }
    // The gateway: OTLP gRPC only (the agents' protocol), on the port its Service publishes.
    assert.equal(envValue(gateway, 'OTELCOL_OTLP_GRPC_ENDPOINT'), '0.0.0.0:4317');
    assert.deepEqual(openPorts(gateway), ['otlp']);
    // The agent: OTLP gRPC and HTTP from the services.
    assert.equal(envValue(agent, 'OTELCOL_OTLP_GRPC_ENDPOINT'), '0.0.0.0:4317');
    assert.equal(envValue(agent, 'OTELCOL_OTLP_HTTP_ENDPOINT'), '0.0.0.0:4318');
    assert.deepEqual(openPorts(agent), ['otlp', 'otlp-http']);
    // HOSTNAME (host.name of the gateway's derived series) is the pod's name.
    assert.equal(envField(gateway, 'HOSTNAME'), 'metadata.name');
    // agent-k8s.yaml: the second --config, mounted from the ConfigMap the .gotmpl creates.
    const agentTemplate = read('values/otel-agent.config.yaml.gotmpl');
    assert.ok(agentTemplate.includes('readFile "../collector/agent-k8s.yaml"'));
    const extraArgs = (releaseValue(agent, 'command.extraArgs') ?? []) as string[];
    assert.deepEqual(extraArgs, ['--config=/etc/otelcol-k8s/agent-k8s.yaml']);
    const overlayMount = mounts(agent).find((m) => m.mountPath === '/etc/otelcol-k8s');
    const overlayVolume = volumes(agent).find((v) => v.name === overlayMount?.name);
    assert.equal(at(overlayVolume, 'configMap.name'), 'otel-agent-k8s');
    assert.ok(agentTemplate.includes('name: otel-agent-k8s'));
  });

  it('runs the gateways as a Deployment of 2 behind a headless Service', () => {
    assert.equal(releaseValue(gateway, 'mode'), 'deployment');
    assert.equal(releaseValue(gateway, 'replicaCount'), 2);
    assert.notEqual(releaseValue(gateway, 'autoscaling.enabled'), true, 'a fixed 2, no HPA');
    // Headless: the DNS name answers with every Ready pod's address, one exporter per gateway.
    assert.equal(releaseValue(gateway, 'service.clusterIP'), 'None');
    assert.notEqual(releaseValue(gateway, 'service.enabled'), false);
    // No Kubernetes API access needed (the agents add the k8s attributes).
    assert.equal(releaseValue(gateway, 'serviceAccount.automountServiceAccountToken'), false);
  });

  it("points the agents at the gateways' headless Service (load_balancing DNS resolver)", () => {
    const resolver = at(tiers[1]?.config, 'exporters.load_balancing.resolver.dns') as Yaml;
    assert.match(String(resolver.hostname), /\$\{env:OTELCOL_GATEWAY_HOSTNAME/);
    assert.match(String(resolver.port), /\$\{env:OTELCOL_GATEWAY_PORT/);
    const { service, namespace } = collectorService(gateway);
    assert.equal(
      envValue(agent, 'OTELCOL_GATEWAY_HOSTNAME'),
      `${service}.${namespace}.svc.cluster.local`,
    );
    // The gateway's listener port, which its Service publishes unchanged (chart default 4317 -> 4317).
    const gatewayPort = envValue(gateway, 'OTELCOL_OTLP_GRPC_ENDPOINT').split(':')[1];
    assert.equal(envValue(agent, 'OTELCOL_GATEWAY_PORT'), gatewayPort);
    assert.equal(releaseValue(gateway, 'ports.otlp.servicePort') ?? 4317, Number(gatewayPort));
  });

  it('runs the agents as a DaemonSet behind a node-local Service, with no port on the node', () => {
    assert.equal(releaseValue(agent, 'mode'), 'daemonset');
    // A DaemonSet gets a Service only when asked; Local keeps each service's traffic on its node.
    assert.equal(releaseValue(agent, 'service.enabled'), true);
    assert.equal(releaseValue(agent, 'service.internalTrafficPolicy'), 'Local');
    assert.notEqual(releaseValue(agent, 'service.clusterIP'), 'None');
    // The chart gives a DaemonSet's ports their own number as hostPort unless it is 0: none here.
    for (const name of openPorts(agent))
      assert.equal(releaseValue(agent, `ports.${name}.hostPort`), 0, `${name}: no hostPort`);
    assert.notEqual(releaseValue(agent, 'hostNetwork'), true);
    // Never a surge: two agents on one node would contend for the same queue directory.
    assert.equal(releaseValue(agent, 'rollout.rollingUpdate.maxSurge'), undefined);
  });

  it('gives the agents their node, their RBAC and the namespaces of the pod logs', () => {
    // k8s_attributes watches only this node's pods.
    const k8sAttributes = at(tiers[1]?.config, 'processors.k8s_attributes') as Yaml;
    assert.equal(at(k8sAttributes, 'filter.node_from_env_var'), 'K8S_NODE_NAME');
    assert.equal(envField(agent, 'K8S_NODE_NAME'), 'spec.nodeName');
    // The ClusterRole (no preset: see values/otel-agent.yaml) covers what the extraction reads.
    assert.equal(releaseValue(agent, 'clusterRole.create'), true);
    const rules = (releaseValue(agent, 'clusterRole.rules') ?? []) as {
      apiGroups: string[];
      resources: string[];
      verbs: string[];
    }[];
    const allowed = (group: string, resource: string) =>
      rules.some(
        (rule) =>
          rule.apiGroups.includes(group) &&
          rule.resources.includes(resource) &&
          ['get', 'list', 'watch'].every((verb) => rule.verbs.includes(verb)),
      );
    assert.ok(allowed('', 'pods'), 'pods');
    assert.ok(allowed('', 'namespaces'), 'namespaces');
    assert.ok(allowed('apps', 'replicasets'), 'replicasets (k8s.deployment.name)');
    for (const rule of rules)
      assert.deepEqual([...rule.verbs].sort(), ['get', 'list', 'watch'], 'read only');
    assert.notEqual(releaseValue(agent, 'serviceAccount.automountServiceAccountToken'), false);
    // Pod logs: every namespace but the services' (they send their logs over OTLP) and the agents'.
    const serviceNamespaces = new Set(services.map((r) => r.namespace));
    assert.deepEqual([...serviceNamespaces], [envValue(agent, 'OTELCOL_OTLP_LOGS_NAMESPACE')]);
    assert.equal(envField(agent, 'OTELCOL_AGENT_NAMESPACE'), 'metadata.namespace');
  });

  it('keeps the queues on volumes: hostPath for the agents, emptyDir for the gateways', () => {
    // The agent: the queue and the pod logs on the node, mounted where its config reads them.
    const agentVolume = (mountPath: string) => {
      const mount = mounts(agent).find((m) => m.mountPath === mountPath);
      assert.ok(mount, `the agent mounts ${mountPath}`);
      return { mount, volume: volumes(agent).find((v) => v.name === mount.name) };
    };
    const queue = agentVolume(envValue(agent, 'OTELCOL_STORAGE_DIR'));
    assert.equal(at(queue.volume, 'hostPath.path'), '/var/lib/otelcol/agent');
    assert.equal(at(queue.volume, 'hostPath.type'), 'DirectoryOrCreate');
    assert.notEqual(queue.mount.readOnly, true);
    const logs = agentVolume(envValue(agent, 'OTELCOL_POD_LOGS_DIR'));
    assert.equal(at(logs.volume, 'hostPath.path'), '/var/log/pods');
    assert.equal(logs.mount.readOnly, true, 'pod logs read only');
    // The gateway: its queue on an emptyDir (a Deployment's replicas cannot share one claim).
    const mount = mounts(gateway).find(
      (m) => m.mountPath === envValue(gateway, 'OTELCOL_STORAGE_DIR'),
    );
    const volume = volumes(gateway).find((v) => v.name === mount?.name);
    assert.ok(at(volume, 'emptyDir'), 'the gateway queue is an emptyDir');
    assert.ok(at(volume, 'emptyDir.sizeLimit'), 'with a size limit');
  });

  it('mounts hostPath volumes only in the otel-agent release', () => {
    const hostPaths = (node: unknown): number => {
      if (node === null || typeof node !== 'object') return 0;
      return Object.entries(node).reduce(
        (n, [key, value]) => n + (key === 'hostPath' ? 1 : 0) + hostPaths(value),
        0,
      );
    };
    for (const r of helmfile.releases) {
      // Plain values parsed; the templates (not YAML before helmfile renders them) as text.
      const templates = (r.values ?? []).filter((file) => file.endsWith('.gotmpl'));
      const count =
        releaseValues(r).reduce((n, values) => n + hostPaths(values), 0) +
        templates.reduce((n, file) => n + (read(file).match(/^\s*hostPath:/gm) ?? []).length, 0);
      if (r.name === agent.name) assert.equal(count, 2, 'pod logs and the queue');
      else assert.equal(count, 0, `${r.name} has no hostPath volume`);
    }
  });
});
