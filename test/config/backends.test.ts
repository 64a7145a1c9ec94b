// backends/: the monolithic Prometheus, Loki and Tempo configs of the local processes (and compose)
// are accepted by the pinned binaries, and the binaries in the tool cache are the versions.env ones.
// Needs prometheus/promtool, loki and tempo (scripts/install-tools.sh): a failure under CI=true when
// one is missing.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { requireTool } from '../support/tools.ts';
import { pinnedVersion, repoRoot } from '../support/versions.ts';

const run = promisify(execFile);
const backend = (name: string): string => join(repoRoot, 'backends', `${name}.yaml`);
const versionPattern = (key: string): RegExp =>
  new RegExp(`version v?${pinnedVersion(key).replaceAll('.', '\\.')}\\b`);

describe('prometheus config', () => {
  it('enables OTLP translation with promoted resource attributes and an out-of-order window', () => {
    const config = parse(readFileSync(backend('prometheus'), 'utf8')) as {
      otlp: { promote_resource_attributes: string[] };
      storage: { tsdb: { out_of_order_time_window: string; retention: { time: string } } };
    };
    assert.ok(config.otlp.promote_resource_attributes.includes('service.name'));
    assert.ok(config.otlp.promote_resource_attributes.includes('deployment.environment.name'));
    assert.ok(config.storage.tsdb.out_of_order_time_window);
    assert.ok(config.storage.tsdb.retention.time);
  });

  it('is accepted by promtool, and prometheus is the pinned version', async (t) => {
    const promtool = requireTool('promtool', t);
    const prometheus = requireTool('prometheus', t);
    if (!promtool || !prometheus) return;
    const { stdout } = await run(promtool, ['check', 'config', backend('prometheus')]);
    assert.match(stdout, /SUCCESS/);
    const version = await run(prometheus, ['--version']);
    assert.match(version.stdout, versionPattern('PROMETHEUS_VERSION'));
  });
});

describe('loki config', () => {
  it('is accepted by loki -verify-config, and loki is the pinned version', async (t) => {
    const loki = requireTool('loki', t);
    if (!loki) return;
    await run(loki, [
      `-config.file=${backend('loki')}`,
      '-config.expand-env=true',
      '-verify-config',
    ]);
    const { stdout } = await run(loki, ['-version']);
    assert.match(stdout, versionPattern('LOKI_VERSION'));
  });
});

describe('tempo config', () => {
  it('is accepted by tempo -config.verify, and tempo is the pinned version', async (t) => {
    const tempo = requireTool('tempo', t);
    if (!tempo) return;
    await run(tempo, [
      `-config.file=${backend('tempo')}`,
      '-config.expand-env=true',
      '-config.verify=true',
    ]);
    const { stdout } = await run(tempo, ['-version']);
    assert.match(stdout, versionPattern('TEMPO_VERSION'));
  });
});
