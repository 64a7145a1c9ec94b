// helmfile.yaml: every remote chart pinned (to versions.env), declared repositories, `needs` between
// real releases, existing values files, the presync hook, and the image tags read from versions.env.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { at, readYaml, release, releaseValue } from '../support/kind-stack.ts';
import { pinnedVersion, repoRoot } from '../support/versions.ts';
import { helmfile, versions, kps, gateway, agent, services } from './helmfile-stack.ts';

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
    // The image tags come from versions.env when helmfile renders (values/versions.yaml.gotmpl);
    // the binary's test below checks the rendered tags.
    for (const name of Object.keys(charts)) {
      assert.ok(
        release(helmfile, name).values?.includes('values/versions.yaml.gotmpl'),
        `${name} reads its image tags from versions.env`,
      );
    }
    for (const tier of [gateway, agent]) {
      assert.equal(releaseValue(tier, 'image.repository'), 'otel/opentelemetry-collector-contrib');
      assert.equal(releaseValue(tier, 'image.tag'), undefined, `${tier.name}: no tag literal`);
      assert.equal(releaseValue(tier, 'command.name'), 'otelcol-contrib');
    }
  });

  it('run the collector of the builder manifest', () => {
    const builder = readYaml('collector/builder-config.yaml');
    assert.equal(at(builder, 'dist.version'), pinnedVersion('OTELCOL_VERSION', versions));
    assert.match(pinnedVersion('KIND_VERSION', versions), /^\d+\.\d+\.\d+$/);
  });
});
