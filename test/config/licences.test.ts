// No AGPL Go module is fetched or built by this project. The Go modules of Grafana, Loki, Tempo, Mimir,
// Pyroscope and k6 are AGPL, and Alloy depends on Loki's: compose and Helm deploy their official
// images (users pull them), but nothing of their code is built here. This denylist runs over every
// file that can make Go fetch or build something: scripts, CI, the collector build manifest, the
// version pins, and any go.mod or Dockerfile.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../support/versions.ts';

const agplModules =
  /github\.com\/grafana\/(loki|tempo|grafana|mimir|pyroscope|alloy)\b|go\.k6\.io\/k6|github\.com\/grafana\/k6\b/i;

/** Tracked files through which Go modules could be fetched or built. */
function buildFiles(): string[] {
  const tracked = execFileSync('git', ['ls-files'], { cwd: repoRoot, encoding: 'utf8' })
    .split('\n')
    .filter(Boolean);
  return tracked.filter(
    (file) =>
      file.startsWith('scripts/') ||
      file.startsWith('.ci/') ||
      file === 'versions.env' ||
      file === 'collector/builder-config.yaml' ||
      /(^|\/)(go\.mod|go\.sum|Dockerfile[^/]*)$/.test(file) ||
      file.endsWith('.go'),
  );
}

describe('licences', () => {
  it('finds the build files to check', () => {
    const files = buildFiles();
    assert.ok(files.includes('scripts/install-tools.sh'));
    assert.ok(files.includes('collector/builder-config.yaml'));
    assert.ok(files.includes('.ci/run'));
  });

  it('no script, manifest or pin names an AGPL Go module', () => {
    const offenders = buildFiles().flatMap((file) =>
      readFileSync(join(repoRoot, file), 'utf8')
        .split('\n')
        .map((line, index) => ({ file, line: index + 1, text: line }))
        .filter(({ text }) => agplModules.test(text)),
    );
    assert.deepEqual(
      offenders,
      [],
      `AGPL modules must not be fetched or built:\n${offenders.map((o) => `${o.file}:${o.line}: ${o.text}`).join('\n')}`,
    );
  });

  it('the denylist matches the module paths it is meant to catch', () => {
    for (const module of [
      'github.com/grafana/loki/v3',
      'github.com/grafana/tempo',
      'github.com/grafana/grafana',
      'github.com/grafana/mimir',
      'github.com/grafana/pyroscope',
      'github.com/grafana/alloy',
      'go.k6.io/k6',
    ]) {
      assert.match(module, agplModules);
    }
    assert.doesNotMatch('github.com/grafana/regexp', agplModules);
    assert.doesNotMatch('github.com/prometheus/prometheus', agplModules);
  });

  it('install-tools.sh builds only permissively licensed tools', () => {
    const script = readFileSync(join(repoRoot, 'scripts', 'install-tools.sh'), 'utf8');
    const tools = /^all_tools=\((.*)\)$/m.exec(script)?.[1]?.split(/\s+/);
    // All Apache-2.0: the collector, Prometheus, Helm, helmfile (MIT), Compose, etcd, Kubernetes, kwok,
    // the Pod Security evaluator.
    assert.deepEqual(tools, [
      'otelcol',
      'prometheus',
      'helm',
      'helmfile',
      'compose',
      'etcd',
      'kubernetes',
      'kwok',
      'pod-security',
    ]);
  });
});
