// The kind stack's structure and consistency, without a cluster: helmfile.yaml (pins, needs, values
// files), versions against versions.env and the collector's builder manifest, kind port mappings =
// NodePorts = the URLs printed by scripts/up.sh and README, Grafana data sources, the collector's two
// tiers (agents and gateways: configs, addresses, Services, volumes), Prometheus settings and alert
// rules (promtool), and the resource footprint.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import {
  at,
  kindPortMappings,
  kindStackImages,
  parseQuantity,
  readHelmfile,
  readYaml,
  release,
  releaseEnvs,
  releaseValue,
  releaseValues,
  type EnvVar,
  type Release,
  type Yaml,
} from '../support/kind-stack.ts';
import { requireTool } from '../support/tools.ts';
import { pinnedVersion, readVersionsEnv, repoRoot } from '../support/versions.ts';

const run = promisify(execFile);
const helmfile = readHelmfile();
const versions = readVersionsEnv();
const read = (path: string) => readFileSync(join(repoRoot, path), 'utf8');

const kps = release(helmfile, 'kube-prometheus-stack');
// The collector's two tiers: the gateways (Deployment) and the agents (DaemonSet, one per node).
const gateway = release(helmfile, 'otel-gateway');
const agent = release(helmfile, 'otel-agent');
const services = [release(helmfile, 'api-gateway'), release(helmfile, 'user-service')];

/** Collector config merge, as the collector does it for several --config: maps merge, lists replace. */
function mergeCollectorConfig(base: unknown, overlay: unknown): unknown {
  if (
    base !== null &&
    overlay !== null &&
    typeof base === 'object' &&
    typeof overlay === 'object' &&
    !Array.isArray(base) &&
    !Array.isArray(overlay)
  ) {
    const merged: Yaml = { ...(base as Yaml) };
    for (const [key, value] of Object.entries(overlay as Yaml)) {
      merged[key] = key in merged ? mergeCollectorConfig(merged[key], value) : value;
    }
    return merged;
  }
  return overlay === undefined ? base : overlay;
}

/** Every string value in parsed YAML (comments are not values). */
function strings(node: unknown): string[] {
  if (typeof node === 'string') return [node];
  if (node !== null && typeof node === 'object') return Object.values(node).flatMap(strings);
  return [];
}

/** The plain value of an env var of a collector release ('' when it is unset or not a plain value). */
function envValue(r: Release, name: string): string {
  return releaseEnvs(r).get(name)?.value ?? '';
}

/** The downward API field an env var of a collector release comes from. */
function envField(r: Release, name: string): string | undefined {
  return (releaseEnvs(r).get(name) as EnvVar | undefined)?.valueFrom?.fieldRef?.fieldPath;
}

/** `${env:NAME...}` placeholders in parsed collector config. */
function envPlaceholders(config: unknown): Set<string> {
  return new Set(
    strings(config).flatMap((v) =>
      [...v.matchAll(/\$\{env:([A-Z_][A-Z0-9_]*)/g)].map((m) => m[1] as string),
    ),
  );
}

/** The chart ports a collector release opens (sorted names). */
function openPorts(r: Release): string[] {
  const ports = (releaseValue(r, 'ports') ?? {}) as Record<string, { enabled: boolean }>;
  return Object.entries(ports)
    .filter(([, p]) => p.enabled)
    .map(([name]) => name)
    .sort();
}

const volumes = (r: Release) => (releaseValue(r, 'extraVolumes') ?? []) as Yaml[];
const mounts = (r: Release) =>
  (releaseValue(r, 'extraVolumeMounts') ?? []) as {
    name: string;
    mountPath: string;
    readOnly?: boolean;
  }[];

/** The Service a collector release creates: <fullnameOverride>.<namespace>. */
function collectorService(r: Release): { service: string; namespace: string } {
  return { service: String(releaseValue(r, 'fullnameOverride')), namespace: r.namespace };
}

/** http://<service>.<namespace>.svc.cluster.local:<port> -> its parts. */
function clusterUrl(url: string): { service: string; namespace: string; port: number } {
  const parsed = new URL(url.includes('://') ? url : `grpc://${url}`);
  const [service, namespace, svc] = parsed.hostname.split('.');
  assert.equal(svc, 'svc', `${url} is an in-cluster Service address`);
  return { service: service as string, namespace: namespace as string, port: Number(parsed.port) };
}

describe('helmfile.yaml', () => {
  it('pins every remote chart, uses declared repositories and existing values files', () => {
    const repositories = new Set(helmfile.repositories.map((r) => r.name));
    assert.deepEqual(
      [...repositories].sort(),
      ['grafana-community', 'open-telemetry', 'prometheus-community'],
      'the three chart repositories of the stack',
    );
    for (const r of helmfile.repositories)
      assert.match(r.url, /^https:\/\//, `${r.name} over https`);
    for (const r of helmfile.releases) {
      if (r.chart.startsWith('./')) {
        assert.ok(
          existsSync(join(repoRoot, r.chart, 'Chart.yaml')),
          `${r.name}: local chart ${r.chart}`,
        );
      } else {
        const [repo] = r.chart.split('/');
        assert.ok(repositories.has(repo as string), `${r.name}: repository ${repo} is declared`);
        assert.match(
          r.version ?? '',
          /^\d+\.\d+\.\d+$/,
          `${r.name}: chart pinned to an exact version`,
        );
      }
      assert.ok((r.values ?? []).length > 0, `${r.name} has values`);
      for (const file of r.values ?? [])
        assert.ok(existsSync(join(repoRoot, file)), `${r.name}: ${file} exists`);
      assert.match(
        r.namespace,
        r.name === 'otel-agent' ? /^otel-agent$/ : /^(observability|apps)$/,
        `${r.name}: apps and the stack in their namespaces, the collector agents in their own`,
      );
    }
    assert.equal(release(helmfile, 'api-gateway').namespace, 'apps');
    assert.equal(release(helmfile, 'user-service').namespace, 'apps');
  });

  it('orders releases with needs that exist and form no cycle', () => {
    const ids = new Map(helmfile.releases.map((r) => [`${r.namespace}/${r.name}`, r]));
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (id: string, path: string[]) => {
      if (state.get(id) === 'done') return;
      assert.notEqual(state.get(id), 'visiting', `needs cycle: ${[...path, id].join(' -> ')}`);
      state.set(id, 'visiting');
      for (const need of ids.get(id)?.needs ?? []) {
        assert.ok(ids.has(need), `${id} needs ${need}, which is not a release (namespace/name)`);
        visit(need, [...path, id]);
      }
      state.set(id, 'done');
    };
    for (const id of ids.keys()) visit(id, []);

    // monitoring.coreos.com objects: only kube-prometheus-stack has them (PrometheusRule, its
    // ServiceMonitors), with their CRDs in its crds/ (installed first by Helm). helm-diff cannot validate
    // them before the CRDs exist (first `helmfile apply`): disableValidationOnInstall. The other charts
    // keep their ServiceMonitors off (metrics are pushed over OTLP), or would need the same treatment.
    assert.equal(
      releaseValue(kps, 'crds.enabled'),
      true,
      'kube-prometheus-stack installs its CRDs (crds/)',
    );
    assert.equal(kps.disableValidationOnInstall, true);
    assert.equal(releaseValue(gateway, 'serviceMonitor.enabled'), false);
    assert.equal(releaseValue(agent, 'serviceMonitor.enabled'), false);
    assert.equal(releaseValue(release(helmfile, 'tempo'), 'serviceMonitor.enabled'), false);
    // Backends, then the collector's gateways, then its agents, then the services that send to them.
    for (const backend of ['kube-prometheus-stack', 'loki', 'tempo'])
      assert.ok(gateway.needs?.includes(`observability/${backend}`), `gateways after ${backend}`);
    assert.ok(
      agent.needs?.includes(`${gateway.namespace}/${gateway.name}`),
      'agents after gateways',
    );
    for (const r of services)
      assert.ok(
        r.needs?.includes(`${agent.namespace}/${agent.name}`),
        `${r.name} after the agents`,
      );
    assert.ok(release(helmfile, 'api-gateway').needs?.includes('apps/user-service'));

    // kube-prometheus-stack's presync hook applies namespaces.yaml (the Pod Security labels): every
    // other release must come after it, directly or through another release, or its pods could be
    // admitted into a namespace not labelled yet.
    const hookRelease = `${kps.namespace}/${kps.name}`;
    assert.ok(JSON.stringify(kps.hooks ?? []).includes('apply -f namespaces.yaml'));
    const after = (id: string): boolean =>
      (ids.get(id)?.needs ?? []).some((need) => need === hookRelease || after(need));
    for (const id of ids.keys())
      if (id !== hookRelease) assert.ok(after(id), `${id} after ${hookRelease} (namespace labels)`);
  });

  it('targets the kind cluster unless told otherwise, waits for readiness', () => {
    const kind = readYaml('kind-config.yaml');
    assert.equal(helmfile.helmDefaults.kubeContext, `kind-${String(kind.name)}`);
    assert.equal(helmfile.helmDefaults.wait, true);
    assert.equal(helmfile.helmDefaults.waitForJobs, true);
    assert.ok(Number(helmfile.helmDefaults.timeout) >= 300);
    // The presync hook creating Grafana's admin Secret uses the same context (kind's, or the one of
    // NOS_KUBE_CONTEXT that scripts/up.sh also gives helmfile) and Secret name as the values; no
    // kubectl call of the hook without it.
    const hook = JSON.stringify(kps.hooks ?? []);
    const context = `--context \\"\${NOS_KUBE_CONTEXT:-kind-${String(kind.name)}}\\"`;
    assert.equal(hook.split('kubectl ').length - 1, hook.split(`kubectl ${context}`).length - 1);
    assert.ok(hook.includes(context));
    assert.ok(
      hook.includes(`secret generic ${String(releaseValue(kps, 'grafana.admin.existingSecret'))}`),
    );
  });
});

describe('versions', () => {
  it('pin the charts and images of versions.env', () => {
    const charts: Record<string, string> = {
      'kube-prometheus-stack': 'KUBE_PROMETHEUS_STACK_CHART_VERSION',
      loki: 'LOKI_CHART_VERSION',
      tempo: 'TEMPO_CHART_VERSION',
      'otel-gateway': 'OTEL_COLLECTOR_CHART_VERSION',
      'otel-agent': 'OTEL_COLLECTOR_CHART_VERSION',
    };
    for (const [name, key] of Object.entries(charts)) {
      assert.equal(
        release(helmfile, name).version,
        pinnedVersion(key, versions),
        `${name} chart = ${key}`,
      );
    }
    const images = kindStackImages(helmfile);
    assert.equal(images.prometheus, `v${pinnedVersion('PROMETHEUS_VERSION', versions)}`);
    assert.equal(images.loki, pinnedVersion('LOKI_VERSION', versions));
    assert.equal(images.tempo, pinnedVersion('TEMPO_VERSION', versions));
    assert.equal(images.otelcol, pinnedVersion('OTELCOL_VERSION', versions));
    assert.equal(images.grafana, pinnedVersion('GRAFANA_VERSION', versions));
    for (const tier of [gateway, agent]) {
      assert.equal(releaseValue(tier, 'image.repository'), 'otel/opentelemetry-collector-contrib');
      assert.equal(releaseValue(tier, 'image.tag'), images.otelcol, `${tier.name}: same image`);
      assert.equal(releaseValue(tier, 'command.name'), 'otelcol-contrib');
    }
  });

  it('run the collector of the builder manifest and the Kubernetes of the kind node image', () => {
    const builder = readYaml('collector/builder-config.yaml');
    assert.equal(at(builder, 'dist.version'), pinnedVersion('OTELCOL_VERSION', versions));
    const kind = readYaml('kind-config.yaml');
    const images = ((kind.nodes ?? []) as Yaml[]).map((n) => String(n.image));
    for (const image of images) {
      assert.match(
        image,
        /^kindest\/node:v[\d.]+@sha256:[0-9a-f]{64}$/,
        'node image pinned by digest',
      );
      assert.ok(
        image.startsWith(`kindest/node:v${pinnedVersion('KUBERNETES_VERSION', versions)}@`),
      );
    }
    assert.match(pinnedVersion('KIND_VERSION', versions), /^\d+\.\d+\.\d+$/);
    assert.match(pinnedVersion('HELMFILE_VERSION', versions), /^\d+\.\d+\.\d+$/);
    assert.match(pinnedVersion('HELM_DIFF_VERSION', versions), /^\d+\.\d+\.\d+$/);
    // The local control plane (scripts/control-plane.sh) runs the kind node image's Kubernetes minor.
    const minorOf = (v: string) => v.split('.').slice(0, 2).join('.');
    assert.equal(
      minorOf(pinnedVersion('KUBERNETES_BINARIES_VERSION', versions)),
      minorOf(pinnedVersion('KUBERNETES_VERSION', versions)),
    );
    for (const key of ['ETCD_VERSION', 'KWOK_VERSION'])
      assert.match(pinnedVersion(key, versions), /^\d+\.\d+\.\d+$/, key);
  });
});

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

describe('helmfile (the binary, offline)', () => {
  const tags = {
    NOS_API_GATEWAY_TAG: '0.1.0-0123456789ab',
    NOS_USER_SERVICE_TAG: '0.1.0-ba9876543210',
  };

  async function helmfileRun(
    helmfileBin: string,
    helmBin: string,
    args: string[],
    env: Record<string, string>,
  ) {
    return run(
      helmfileBin,
      ['--helm-binary', helmBin, '--file', join(repoRoot, 'helmfile.yaml'), ...args],
      {
        cwd: repoRoot,
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, HELMFILE_UPGRADE_NOTICE_DISABLED: '1', ...env },
      },
    );
  }

  it('renders every .gotmpl values file from the repository files, unchanged', async (t) => {
    const helmfileBin = requireTool('helmfile', t);
    const helmBin = requireTool('helm', t);
    if (!helmfileBin || !helmBin) return;
    const { stdout } = await helmfileRun(helmfileBin, helmBin, ['build', '--embed-values'], tags);
    const state = parse(stdout) as { releases: (Release & { values: Yaml[] })[] };
    const embedded = (name: string) => {
      const found = state.releases.find((r) => r.name === name);
      assert.ok(found, `release ${name} in helmfile build`);
      return found.values.reduce<Yaml>(
        (all, values) => mergeCollectorConfig(all, values) as Yaml,
        {},
      );
    };

    // Grafana: the data sources file, the dashboards (base64 of the exact files), the alert rules.
    const kpsValues = releaseValuesMerged(state, 'kube-prometheus-stack');
    assert.deepEqual(at(kpsValues, 'grafana.datasources'), {
      'datasources.yaml': readYaml('grafana/provisioning/datasources/datasources.yaml'),
    });
    const manifests = (kpsValues.extraManifests ?? []) as Yaml[];
    const dashboards = readdirSync(join(repoRoot, 'grafana/dashboards')).filter((f) =>
      f.endsWith('.json'),
    );
    assert.equal(manifests.length, dashboards.length, 'one ConfigMap per dashboard');
    for (const file of dashboards) {
      const manifest = manifests.find((m) => file in ((m.binaryData ?? {}) as Yaml));
      assert.ok(manifest, `ConfigMap for ${file}`);
      const content = Buffer.from(
        String((manifest.binaryData as Yaml)[file] ?? ''),
        'base64',
      ).toString('utf8');
      assert.equal(content, read(`grafana/dashboards/${file}`), `${file} arrives byte for byte`);
      assert.equal(at(manifest, 'metadata.labels.grafana_dashboard'), '1');
    }
    assert.deepEqual(
      at(kpsValues, 'additionalPrometheusRulesMap.node-observability-stack'),
      readYaml('values/prometheus-rules.yaml'),
    );

    // Collector: gateway.yaml and agent.yaml as alternateConfig; agent-k8s.yaml as the agent's mounted
    // second config, with a checksum that rolls the agents when it changes.
    assert.deepEqual(embedded('otel-gateway').alternateConfig, readYaml('collector/gateway.yaml'));
    const agentValues = embedded('otel-agent');
    assert.deepEqual(agentValues.alternateConfig, readYaml('collector/agent.yaml'));
    const overlayText = read('collector/agent-k8s.yaml');
    const overlayManifest = ((agentValues.extraManifests ?? []) as Yaml[])[0];
    assert.equal(at(overlayManifest, 'metadata.name'), 'otel-agent-k8s');
    assert.equal((overlayManifest?.data as Yaml | undefined)?.['agent-k8s.yaml'], overlayText);
    assert.equal(
      at(agentValues, 'podAnnotations.checksum/agent-k8s'),
      createHash('sha256').update(overlayText).digest('hex'),
    );

    // Tempo: backends/tempo.yaml verbatim.
    assert.equal(String(embedded('tempo').config).trimEnd(), read('backends/tempo.yaml').trimEnd());

    // The services: the image tags of scripts/up.sh.
    assert.equal(at(embedded('api-gateway'), 'image.tag'), tags.NOS_API_GATEWAY_TAG);
    assert.equal(at(embedded('user-service'), 'image.tag'), tags.NOS_USER_SERVICE_TAG);
  });

  it('templates the services with the chart and the image tags, and refuses to run without tags', async (t) => {
    const helmfileBin = requireTool('helmfile', t);
    const helmBin = requireTool('helm', t);
    if (!helmfileBin || !helmBin) return;
    const args = ['--selector', 'namespace=apps', 'template', '--skip-deps', '--skip-refresh'];
    const { stdout } = await helmfileRun(helmfileBin, helmBin, args, tags);
    assert.ok(stdout.includes(`image: "api-gateway:${tags.NOS_API_GATEWAY_TAG}"`));
    assert.ok(stdout.includes(`image: "user-service:${tags.NOS_USER_SERVICE_TAG}"`));
    assert.ok(stdout.includes('nodePort: 30080'));

    const env = { NOS_API_GATEWAY_TAG: '', NOS_USER_SERVICE_TAG: tags.NOS_USER_SERVICE_TAG };
    await assert.rejects(
      helmfileRun(helmfileBin, helmBin, ['build', '--embed-values'], env),
      (error: Error) => {
        assert.match(
          String((error as Error & { stderr?: string }).stderr),
          /NOS_API_GATEWAY_TAG is not set/,
        );
        return true;
      },
    );
  });
});

/** The values of a release in `helmfile build --embed-values` output, merged in order (maps deep). */
function releaseValuesMerged(
  state: { releases: (Release & { values: Yaml[] })[] },
  name: string,
): Yaml {
  const found = state.releases.find((r) => r.name === name);
  assert.ok(found, `release ${name} in helmfile build`);
  return found.values.reduce<Yaml>((all, values) => mergeCollectorConfig(all, values) as Yaml, {});
}
