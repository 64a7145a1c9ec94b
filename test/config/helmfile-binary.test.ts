// helmfile itself, offline: `helmfile build --embed-values` renders every .gotmpl values file from
// the repository files (and the image tags from versions.env), and `helmfile template` the services.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { at, readYaml, type Release, type Yaml } from '../support/kind-stack.ts';
import { requireTool } from '../support/tools.ts';
import { pinnedVersion, repoRoot } from '../support/versions.ts';
import {
  run,
  versions,
  read,
  mergeCollectorConfig,
  releaseValuesMerged,
} from './helmfile-stack.ts';

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

    // The chart releases' image tags: versions.env's pins (values/versions.yaml.gotmpl).
    const pin = (key: string) => pinnedVersion(key, versions);
    assert.equal(
      at(kpsValues, 'prometheus.prometheusSpec.image.tag'),
      `v${pin('PROMETHEUS_VERSION')}`,
    );
    assert.equal(at(kpsValues, 'grafana.image.tag'), pin('GRAFANA_VERSION'));
    assert.equal(at(embedded('loki'), 'loki.image.tag'), pin('LOKI_VERSION'));
    assert.equal(at(embedded('tempo'), 'tempo.tag'), pin('TEMPO_VERSION'));
    for (const tier of ['otel-gateway', 'otel-agent'])
      assert.equal(at(embedded(tier), 'image.tag'), pin('OTELCOL_VERSION'), tier);

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
