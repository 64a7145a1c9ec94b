// Prints what probe.ts recorded (`npm run bench -- --probe DIR`): per variant and service, the
// seconds whose event loop stalled longest, with the garbage collection of those seconds, and the
// totals. node scripts/bench/probe-summary.ts DIR [--top 8]

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

interface Line {
  s: number;
  delayMaxMs: number;
  delayP99Ms: number;
  gc: { n: number; ms: number; maxMs: number; major: number };
  heapMiB: number;
  cpuMs: number;
}

const { values, positionals } = parseArgs({
  options: { top: { type: 'string', default: '8' } },
  allowPositionals: true,
});
const dir = positionals[0];
if (!dir) {
  console.error('usage: node scripts/bench/probe-summary.ts DIR [--top N]');
  process.exit(2);
}
const top = Number(values.top);

for (const variant of readdirSync(dir).sort()) {
  if (!statSync(join(dir, variant)).isDirectory()) continue;
  for (const file of readdirSync(join(dir, variant)).sort()) {
    const lines = readFileSync(join(dir, variant, file), 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Line);
    if (lines.length === 0) continue;
    const sum = (f: (l: Line) => number) => lines.reduce((t, l) => t + f(l), 0);
    console.log(
      `\n${variant} ${file}: ${lines.length} s, GC ${sum((l) => l.gc.ms).toFixed(0)} ms in ` +
        `${sum((l) => l.gc.n)} pauses (${sum((l) => l.gc.major)} major), longest ` +
        `${Math.max(...lines.map((l) => l.gc.maxMs)).toFixed(1)} ms; CPU ${sum((l) => l.cpuMs).toFixed(0)} ms`,
    );
    console.log(
      '| s | delay max (ms) | delay p99 (ms) | GC ms (n, longest, major) | heap MiB | CPU ms |',
    );
    console.log('|---|---|---|---|---|---|');
    const worst = [...lines].sort((a, b) => b.delayMaxMs - a.delayMaxMs).slice(0, top);
    for (const l of worst.sort((a, b) => a.s - b.s)) {
      console.log(
        `| ${l.s} | ${l.delayMaxMs.toFixed(0)} | ${l.delayP99Ms.toFixed(0)} | ` +
          `${l.gc.ms.toFixed(0)} (${l.gc.n}, ${l.gc.maxMs.toFixed(1)}, ${l.gc.major}) | ` +
          `${l.heapMiB.toFixed(0)} | ${l.cpuMs.toFixed(0)} |`,
      );
    }
  }
}
