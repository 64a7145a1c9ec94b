// docker-compose.yaml's resource limits and the minimal way to run it (compose.minimal.yaml), as the
// real Compose implementation resolves them (`docker-compose config`): every service is limited in
// memory and CPU, docs/compose.md states the totals that the files add up to, and the minimal stack
// is one collector tier that nothing addresses past.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { requireTool } from '../support/tools.ts';
import { repoRoot } from '../support/versions.ts';

interface ResolvedService {
  deploy?: { resources?: { limits?: { cpus?: number; memory?: string | number } } };
  environment?: Record<string, string>;
  depends_on?: Record<string, unknown>;
}
interface Resolved {
  services: Record<string, ResolvedService>;
}

/** One-shot services: they exit before the others start and hold no memory afterwards. */
const ONE_SHOT = new Set(['otel-queue-volumes']);
const MiB = 2 ** 20;

function resolved(t: TestContext, files: string[], profiles: string[] = []): Resolved | undefined {
  const bin = requireTool('docker-compose', t);
  if (!bin) return undefined;
  const args = [
    '--env-file',
    join(repoRoot, 'versions.env'),
    ...files.flatMap((f) => ['-f', join(repoRoot, f)]),
  ];
  const result = spawnSync(bin, [...args, ...profiles, 'config', '--format', 'json'], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      GRAFANA_ADMIN_PASSWORD: 'only-for-the-config-test',
    },
  });
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout) as Resolved;
}

const memoryOf = (s: ResolvedService): number => Number(s.deploy?.resources?.limits?.memory ?? 0);

/** Sum of the memory limits of the long-running services, in MiB. */
function totalMiB(config: Resolved): number {
  const sum = Object.entries(config.services)
    .filter(([name]) => !ONE_SHOT.has(name))
    .reduce((total, [, s]) => total + memoryOf(s), 0);
  return Math.round(sum / MiB);
}

const docs = readFileSync(join(repoRoot, 'docs', 'compose.md'), 'utf8');
/** The figure docs/compose.md states after `label` (e.g. "limits add up to 3328 MiB"). */
function stated(label: string): number {
  const match = new RegExp(`${label} (\\d[\\d,]*) MiB`, 'i').exec(docs);
  assert.ok(match, `docs/compose.md states "${label} N MiB"`);
  return Number((match[1] as string).replaceAll(',', ''));
}

describe('docker compose resource limits', () => {
  test('every service has a memory and a CPU limit', (t) => {
    const config = resolved(t, ['docker-compose.yaml'], ['--profile', 'traffic']);
    if (!config) return;
    for (const [name, s] of Object.entries(config.services)) {
      const limits = s.deploy?.resources?.limits;
      assert.ok(memoryOf(s) >= 16 * MiB, `${name}: a memory limit (${JSON.stringify(limits)})`);
      assert.ok((limits?.cpus ?? 0) > 0, `${name}: a CPU limit (${JSON.stringify(limits)})`);
    }
  });

  test('docs/compose.md states the totals the files add up to', (t) => {
    const full = resolved(t, ['docker-compose.yaml']);
    const traffic = resolved(t, ['docker-compose.yaml'], ['--profile', 'traffic']);
    const minimal = resolved(t, ['docker-compose.yaml', 'compose.minimal.yaml']);
    if (!full || !traffic || !minimal) return;
    assert.equal(stated('the limits add up to'), totalMiB(full));
    assert.equal(stated('with the traffic generator'), totalMiB(traffic));
    assert.equal(stated('the minimal stack’s limits add up to'), totalMiB(minimal));
  });
});

describe('compose.minimal.yaml: one collector tier', () => {
  test('no agent; the services send to the gateway and wait for it alone', (t) => {
    const config = resolved(t, ['docker-compose.yaml', 'compose.minimal.yaml']);
    if (!config) return;
    assert.equal(config.services['otel-agent'], undefined, 'the agent does not run');
    assert.equal(config.services['traffic-generator'], undefined, 'nor the traffic generator');
    for (const name of ['user-service', 'api-gateway']) {
      const s: ResolvedService | undefined = config.services[name];
      assert.ok(s, name);
      assert.equal(s.environment?.OTEL_EXPORTER_OTLP_ENDPOINT, 'http://otel-gateway:4317', name);
      assert.ok(s.depends_on?.['otel-gateway'], `${name} waits for the gateway`);
    }
    for (const [name, s] of Object.entries(config.services)) {
      assert.ok(!('otel-agent' in (s.depends_on ?? {})), `${name} does not wait for the agent`);
      assert.doesNotMatch(
        JSON.stringify(s.environment ?? {}),
        /otel-agent/,
        `${name} addresses no agent`,
      );
    }
  });
});
