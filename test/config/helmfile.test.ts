// The kind stack's structure and consistency, without a cluster: helmfile.yaml (pins, needs, values
// files), versions against versions.env and the collector's builder manifest, kind port mappings =
// NodePorts = the URLs printed by scripts/up.sh and README, Grafana data sources, the collector's
// config + k8s overlay, Prometheus settings and alert rules (promtool), and the resource footprint.
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
  releaseValue,
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
const collector = release(helmfile, 'otel-collector');

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

function extraEnvs(): Map<string, string> {
  const envs = (releaseValue(collector, 'extraEnvs') ?? []) as { name: string; value: string }[];
  return new Map(envs.map((e) => [e.name, e.value]));
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
        /^(observability|apps)$/,
        `${r.name}: apps and the stack in their namespaces`,
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
    assert.equal(releaseValue(collector, 'serviceMonitor.enabled'), false);
    assert.equal(releaseValue(release(helmfile, 'tempo'), 'serviceMonitor.enabled'), false);
    assert.ok(
      collector.needs?.includes('observability/kube-prometheus-stack'),
      'collector after Prometheus',
    );
    // The services start after the collector, the gateway after user-service.
    assert.ok(release(helmfile, 'user-service').needs?.includes('observability/otel-collector'));
    assert.ok(release(helmfile, 'api-gateway').needs?.includes('apps/user-service'));
  });

  it('only ever targets the kind cluster, waits for readiness', () => {
    const kind = readYaml('kind-config.yaml');
    assert.equal(helmfile.helmDefaults.kubeContext, `kind-${String(kind.name)}`);
    assert.equal(helmfile.helmDefaults.wait, true);
    assert.equal(helmfile.helmDefaults.waitForJobs, true);
    assert.ok(Number(helmfile.helmDefaults.timeout) >= 300);
    // The presync hook creating Grafana's admin Secret uses the same context and Secret name as the values.
    const hook = JSON.stringify(kps.hooks ?? []);
    assert.ok(hook.includes(`--context kind-${String(kind.name)}`));
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
      'otel-collector': 'OTEL_COLLECTOR_CHART_VERSION',
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
    assert.equal(
      releaseValue(collector, 'image.repository'),
      'otel/opentelemetry-collector-contrib',
    );
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
    const fullname = String(releaseValue(collector, 'fullnameOverride'));
    for (const name of ['api-gateway', 'user-service']) {
      const endpoint = clusterUrl(String(releaseValue(release(helmfile, name), 'otel.endpoint')));
      assert.deepEqual(
        endpoint,
        { service: fullname, namespace: collector.namespace, port: 4317 },
        name,
      );
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
    const collectorEnv = extraEnvs();
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
    // Grafana reads from where the collector writes.
    assert.equal(collectorEnv.get('PROMETHEUS_URL'), env.PROMETHEUS_URL);
    assert.equal(collectorEnv.get('LOKI_URL'), env.LOKI_URL);
    assert.deepEqual(clusterUrl(collectorEnv.get('TEMPO_OTLP_GRPC_ENDPOINT') ?? ''), {
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
  const config = parse(read('collector/config.yaml')) as Yaml;
  const overlay = parse(read('collector/k8s-overlay.yaml')) as Yaml;
  const merged = mergeCollectorConfig(config, overlay) as Yaml;

  it('config and k8s overlay parse, use only defined components, all in the builder manifest', () => {
    for (const file of ['collector/config.yaml', 'collector/k8s-overlay.yaml']) {
      // Both go through the chart's `tpl` (relay.yaml and the overlay ConfigMap).
      assert.ok(!read(file).includes('{{'), `${file} must not contain "{{"`);
    }
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
    const pipelines = at(merged, 'service.pipelines') as Record<string, Record<string, string[]>>;
    const used = new Map<string, Set<string>>(kinds.map((k) => [k, new Set()]));
    for (const [name, pipeline] of Object.entries(pipelines)) {
      for (const kind of ['receivers', 'processors', 'exporters']) {
        for (const id of pipeline[kind] ?? []) {
          const defined = Object.keys((merged[kind] ?? {}) as Yaml).includes(id);
          const connector =
            kind !== 'processors' && Object.keys((merged.connectors ?? {}) as Yaml).includes(id);
          assert.ok(defined || connector, `pipeline ${name}: ${kind} ${id} is defined`);
          used.get(connector && !defined ? 'connectors' : kind)?.add(id);
        }
      }
    }
    for (const id of (at(merged, 'service.extensions') ?? []) as string[])
      used.get('extensions')?.add(id);
    // Everything the overlay defines is used by a pipeline.
    for (const kind of kinds) {
      for (const id of Object.keys((overlay[kind] ?? {}) as Yaml)) {
        assert.ok(used.get(kind)?.has(id), `overlay ${kind} ${id} is used in a pipeline`);
      }
    }
    // The chart's kubernetesAttributes preset adds `k8s_attributes` as well.
    used.get('processors')?.add('k8s_attributes');
    for (const [kind, ids] of used) {
      const modules = built(kind);
      for (const id of ids) {
        const type = (id.split('/')[0] as string).replaceAll('_', '');
        assert.ok(
          modules.has(aliases[type] ?? type),
          `${kind} ${id} is built (collector/builder-config.yaml)`,
        );
      }
    }
    // The overlay keeps memory_limiter first and puts k8s_attributes before batch.
    for (const [name, pipeline] of Object.entries(pipelines)) {
      const processors = pipeline.processors ?? [];
      assert.equal(processors[0], 'memory_limiter', `${name}: memory_limiter first`);
      assert.ok(processors.indexOf('k8s_attributes') > 0, `${name}: k8s_attributes`);
      assert.ok(
        processors.indexOf('k8s_attributes') < processors.indexOf('batch'),
        `${name}: k8s_attributes before batch`,
      );
    }
  });

  it('gets an address for every ${env:...} of its config in the cluster', () => {
    const envs = extraEnvs();
    const names = new Set(
      strings(config).flatMap((v) =>
        [...v.matchAll(/\$\{env:([A-Z_][A-Z0-9_]*)/g)].map((m) => m[1]),
      ),
    );
    // The :8888 pull endpoint of the collector's own metrics may stay on localhost (they are pushed).
    const localOnly = new Set(['OTELCOL_METRICS_HOST', 'OTELCOL_METRICS_PORT']);
    for (const name of names) {
      if (!localOnly.has(name as string))
        assert.ok(envs.has(name as string), `values/otel-collector.yaml sets ${name}`);
    }
    for (const name of [
      'OTELCOL_OTLP_GRPC_ENDPOINT',
      'OTELCOL_OTLP_HTTP_ENDPOINT',
      'OTELCOL_HEALTH_ENDPOINT',
    ]) {
      assert.match(envs.get(name) ?? '', /^0\.0\.0\.0:\d+$/, `${name} listens on every interface`);
    }
    // The chart's liveness/readiness probes call the health_check extension on 13133.
    assert.equal(envs.get('OTELCOL_HEALTH_ENDPOINT'), '0.0.0.0:13133');
    // Chart ports = the listeners: OTLP gRPC and HTTP, nothing of the chart's defaults.
    const ports = releaseValue(collector, 'ports') as Record<string, { enabled: boolean }>;
    const open = Object.entries(ports)
      .filter(([, p]) => p.enabled)
      .map(([name]) => name)
      .sort();
    assert.deepEqual(open, ['otlp', 'otlp-http']);
    // Deployment mode with the k8s attributes preset, the two files of the repository, no chart defaults.
    assert.equal(releaseValue(collector, 'mode'), 'deployment');
    assert.equal(releaseValue(collector, 'presets.kubernetesAttributes.enabled'), true);
    const template = read('values/otel-collector.config.yaml.gotmpl');
    assert.match(template, /alternateConfig:\n\{\{ readFile "\.\.\/collector\/config\.yaml"/);
    assert.ok(template.includes('readFile "../collector/k8s-overlay.yaml"'));
    assert.ok(template.includes('--config=/etc/otelcol-k8s/k8s-overlay.yaml'));
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
    const containers: [string, unknown][] = [
      ['prometheus', releaseValue(kps, 'prometheus.prometheusSpec.resources')],
      [
        'prometheus config-reloader',
        releaseValue(kps, 'prometheusOperator.prometheusConfigReloader.resources'),
      ],
      ['prometheus-operator', releaseValue(kps, 'prometheusOperator.resources')],
      ['kube-state-metrics', releaseValue(kps, 'kube-state-metrics.resources')],
      ['node-exporter (1 node)', releaseValue(kps, 'prometheus-node-exporter.resources')],
      ['grafana', releaseValue(kps, 'grafana.resources')],
      ['grafana dashboard sidecar', releaseValue(kps, 'grafana.sidecar.resources')],
      ['loki', releaseValue(release(helmfile, 'loki'), 'singleBinary.resources')],
      ['tempo', releaseValue(release(helmfile, 'tempo'), 'tempo.resources')],
      ['otel-collector', releaseValue(collector, 'resources')],
      ['api-gateway', fromChart(release(helmfile, 'api-gateway'), 'resources')],
      ['user-service', fromChart(release(helmfile, 'user-service'), 'resources')],
    ];
    const sum = { requests: { cpu: 0, memory: 0 }, limits: { cpu: 0, memory: 0 } };
    for (const [name, resources] of containers) {
      for (const kind of ['requests', 'limits'] as const) {
        for (const resource of ['cpu', 'memory'] as const) {
          const quantity = at(resources, `${kind}.${resource}`);
          assert.ok(quantity !== undefined, `${name}: ${kind}.${resource} is set`);
          sum[kind][resource] += parseQuantity(quantity as string);
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

    // Collector: config.yaml as alternateConfig, the overlay as a mounted file, a checksum that rolls the pod.
    const collectorValues = embedded('otel-collector');
    assert.deepEqual(collectorValues.alternateConfig, readYaml('collector/config.yaml'));
    const overlayText = read('collector/k8s-overlay.yaml');
    const overlayManifest = ((collectorValues.extraManifests ?? []) as Yaml[])[0];
    assert.equal((overlayManifest?.data as Yaml | undefined)?.['k8s-overlay.yaml'], overlayText);
    assert.equal(
      at(collectorValues, 'podAnnotations.checksum/k8s-overlay'),
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
