// docker-compose.yaml: start order (healthchecks and depends_on), the optional traffic profile, no
// committed secret, and Grafana provisioned from the same files as the kind stack.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { repoRoot } from '../support/versions.ts';
import { bindMounts, dig, readYaml, service, serviceNames, services } from './compose-file.ts';

describe('docker-compose.yaml: start order, profiles, secrets', () => {
  test('healthchecks, and depends_on waits for healthy services where they have a healthcheck', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const [dependency, { condition }] of Object.entries(s.depends_on ?? {})) {
        assert.ok(serviceNames.has(dependency), `${name} depends on ${dependency}, which exists`);
        const hasCheck = services[dependency]?.healthcheck !== undefined;
        // A one-shot job is waited for until it has exited successfully.
        const oneShot = services[dependency]?.restart === undefined;
        assert.equal(
          condition,
          oneShot
            ? 'service_completed_successfully'
            : hasCheck
              ? 'service_healthy'
              : 'service_started',
          `${name} -> ${dependency}: ${hasCheck ? 'healthy' : 'started (no healthcheck possible)'}`,
        );
      }
    }
    // Everything that serves has a healthcheck, except the collectors and Tempo 2.10: their images have
    // no shell and no HTTP client, and neither binary has a health subcommand (Tempo's came with 3.0).
    const withoutCheck = Object.entries(services)
      .filter(([, s]) => !s.healthcheck && !s.profiles && s.restart !== undefined)
      .map(([name]) => name)
      .sort();
    assert.deepEqual(withoutCheck, ['otel-agent', 'otel-gateway', 'tempo']);
    assert.equal(service('grafana').depends_on?.prometheus?.condition, 'service_healthy');
    assert.equal(service('api-gateway').depends_on?.['user-service']?.condition, 'service_healthy');
  });

  test('the traffic generator is an optional profile', () => {
    assert.deepEqual(service('traffic-generator').profiles, ['traffic']);
    for (const [name, s] of Object.entries(services)) {
      if (name !== 'traffic-generator') assert.equal(s.profiles, undefined, `${name} always runs`);
    }
  });

  test('no Grafana password in the file: GRAFANA_ADMIN_PASSWORD is required', () => {
    assert.match(
      service('grafana').environment?.GF_SECURITY_ADMIN_PASSWORD ?? '',
      /^\$\{GRAFANA_ADMIN_PASSWORD:\?[^}]+\}$/,
    );
    for (const [name, s] of Object.entries(services)) {
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        if (/PASSWORD|SECRET|TOKEN/.test(key) && key !== 'GF_SECURITY_ADMIN_PASSWORD') {
          assert.fail(`${name}: ${key}=${String(value)} looks like a committed secret`);
        }
      }
    }
  });
});

describe('docker-compose.yaml: Grafana provisioning is the same files as the kind stack', () => {
  test('compose mounts grafana/provisioning/{datasources,dashboards} and grafana/dashboards', () => {
    const mounts = Object.fromEntries(bindMounts('grafana').map((m) => [m.source, m.target]));
    assert.equal(
      mounts['grafana/provisioning/datasources'],
      '/etc/grafana/provisioning/datasources',
    );
    assert.equal(mounts['grafana/provisioning/dashboards'], '/etc/grafana/provisioning/dashboards');
    const provider = readYaml('grafana/provisioning/dashboards/dashboards.yaml');
    const providerPath = dig(provider, 'providers', '0', 'options', 'path');
    assert.equal(
      mounts['grafana/dashboards'],
      providerPath,
      'dashboards mounted where the provider reads them',
    );
    assert.ok(statSync(join(repoRoot, 'grafana/dashboards')).isDirectory());
  });

  test('the kind values read the same data source file and dashboard directory', () => {
    const path = join(repoRoot, 'values/kube-prometheus-stack.files.yaml.gotmpl');
    assert.ok(existsSync(path), 'values/kube-prometheus-stack.files.yaml.gotmpl must exist');
    const text = readFileSync(path, 'utf8');
    // helmfile resolves these paths relative to the values file or to helmfile.yaml: either way they
    // must land on the files compose mounts.
    const resolvesTo = (relative: string, expected: string) =>
      [dirname(path), repoRoot].some(
        (base) => resolve(base, relative) === join(repoRoot, expected),
      );
    const datasources = /readFile "([^"]*datasources\.yaml)"/.exec(text)?.[1] ?? '';
    assert.ok(
      resolvesTo(datasources, 'grafana/provisioning/datasources/datasources.yaml'),
      `kind reads the data sources from "${datasources}"`,
    );
    const dashboards = /readDir "([^"]*dashboards)"/.exec(text)?.[1] ?? '';
    assert.ok(
      resolvesTo(dashboards, 'grafana/dashboards'),
      `kind reads the dashboards from "${dashboards}"`,
    );
    const kindEnv = dig(readYaml('values/kube-prometheus-stack.yaml'), 'grafana', 'env') as Record<
      string,
      string
    >;
    assert.deepEqual(
      Object.keys(kindEnv ?? {}).sort(),
      ['LOKI_URL', 'PROMETHEUS_URL', 'TEMPO_URL'],
      'kind sets the same data source URL variables',
    );
  });
});
