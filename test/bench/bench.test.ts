// Smoke test of `npm run bench` with tiny settings: one round of each variant runs, the tables are
// printed and the JSON is written. It checks that the benchmark works, not what it measures (timing
// is reported by the benchmark, never asserted by a test).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../support/service-process.ts';
import { requireTool } from '../support/tools.ts';

test('npm run bench runs one tiny round of A, B, C, Z and Z_esm and reports them', async (t) => {
  if (!requireTool('otelcol', t) || !requireTool('wrk', t)) return;
  const dir = mkdtempSync(join(tmpdir(), 'bench-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const json = join(dir, 'bench.json');
  const tiny = ['--rounds', '1', '--idle-seconds', '0', '--warmup-seconds', '1', '--rate', '50'];
  const child = spawn(
    process.execPath,
    [
      join(repoRoot, 'scripts/bench/run.ts'),
      ...tiny,
      ...['--rate-seconds', '1', '--delivery-rate', '50', '--delivery-seconds', '2'],
      ...['--saturation-seconds', '1', '--connections', '4', '--json', json],
    ],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const [code] = await once(child, 'exit');
  assert.equal(code, 0, output);

  assert.match(output, /\| throughput A\/C \| [\d.]+ \| ≥ 0\.50 \|/);
  assert.match(output, /\| CPU per request A\/Z_esm \| [\d.]+ \| ≤ 0\.80 \|/);
  assert.match(
    output,
    /\| delivery at 50 req\/s for 2 s, spans \/ log records \(%\) \| [\d.]+ \/ [\d.]+ \|/,
  );
  assert.match(
    output,
    /\| saturation throughput, wrk -c 4 \(req\/s\) \| \d+ \| \d+ \| \d+ \| \d+ \| \d+ \|/,
  );

  const report = JSON.parse(readFileSync(json, 'utf8')) as {
    rounds: {
      variant: string;
      saturation: { requests: number };
      delivery?: { spansReceived: number };
    }[];
  };
  assert.deepEqual(report.rounds.map((r) => r.variant).sort(), ['A', 'B', 'C', 'Z', 'Z_esm']);
  for (const round of report.rounds) assert.ok(round.saturation.requests > 0, round.variant);
  const a = report.rounds.find((r) => r.variant === 'A');
  assert.ok((a?.delivery?.spansReceived ?? 0) > 0, 'the sink collector received spans from A');
});
