// What telemetry costs: the two services measured in alternated rounds of five variants.
//   A      the services as shipped (TELEMETRY_MODE=tuned), exporting to a sink collector
//   B      the same with OTEL_SDK_DISABLED=true
//   C      a minimal uninstrumented Express 5 pair, same routes and simulated latency (plain-pair.ts)
//   Z      the same services in the stock zero-code mode (TELEMETRY_MODE=stock), to the same sink
//   Z_esm  stock plus the ESM loader hook (TELEMETRY_MODE=stock-esm): the stock setup with the same
//          features as A (route names, log export, log correlation)
// A, B, Z and Z_esm start through the services' start command (services/telemetry/bin/start.sh).
// Each round starts the pair of every variant in turn (rotating the order), then: start-to-ready,
// RSS idle, a high fixed rate (p99, and for A delivery: spans and log records accepted by the sink
// collector vs requests answered), p50/p99 at a fixed rate, saturation with wrk, CPU seconds per
// 10,000 requests (both services, all threads, from /proc), RSS after the load, graceful stop. It
// reports medians and spreads, and the per-round ratios of A to the others as the headline; it
// asserts nothing.
//   npm run bench                 full run (5 rounds; about 20 minutes)
//   npm run bench -- --quick      2 short rounds (about 2-3 minutes)
//   npm run bench -- --help       every knob (also BENCH_* environment variables)

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchOptions } from './options.ts';
import { printReport } from './report.ts';
import { oneRound, type RoundOptions } from './round.ts';
import { startSink } from './sink.ts';
import { summarise, type RoundResult, type Variant } from './summary.ts';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const toolBin = join(
  process.env.NOS_CACHE_DIR ?? join(process.env.HOME ?? '', '.cache', 'node-observability-stack'),
  'bin',
);
const options = benchOptions(process.argv.slice(2), process.env);
const { settings, quick, variants, aEnv } = options;

const wrk = ['/usr/bin/wrk', '/usr/local/bin/wrk', join(toolBin, 'wrk')].find((path) => {
  try {
    readFileSync(path, { flag: 'r' }).subarray(0, 1);
    return true;
  } catch {
    return false;
  }
});
if (!wrk) {
  console.error(
    'bench: wrk not found. Debian/Ubuntu: apt-get install wrk; macOS: brew install wrk',
  );
  process.exit(1);
}

const sink = await startSink(repoRoot, toolBin);
const roundOptions: RoundOptions = {
  ...options,
  repoRoot,
  sinkOtlpPort: sink.otlpPort,
  sink,
  wrk,
};

// ---- the run ------------------------------------------------------------------------------------
const startedAt = new Date();
const machine = {
  node: process.version,
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  loadAverageAtStart: loadavg()[0] ?? Number.NaN,
};
console.log(
  `bench: ${settings.rounds} rounds of ${variants.join(', ')} (${quick ? 'quick' : 'full'}), ` +
    `node ${machine.node}, ${machine.cores} cores, load average ${machine.loadAverageAtStart.toFixed(1)}` +
    (Object.keys(aEnv).length ? `, A with ${JSON.stringify(aEnv)}` : ''),
);
const results: RoundResult[] = [];
for (let round = 0; round < settings.rounds; round++) {
  // Rotate the order so no variant always runs first (or right after the same neighbour).
  const order = variants.map((_, i) => variants[(i + round) % variants.length] as Variant);
  for (const variant of order) {
    const result = await oneRound(variant, round, roundOptions);
    results.push(result);
    console.log(
      `round ${round + 1}/${settings.rounds} ${variant}: ${result.saturation.perSecond.toFixed(0)} req/s, ` +
        `${result.saturation.cpuPer10k.toFixed(2)} CPU s/10k, p99 ${result.fixedRate.p99Ms.toFixed(1)} ms, ` +
        `p99 at ${settings['delivery-rate']} req/s ${result.highRate.p99Ms.toFixed(1)} ms` +
        (result.delivery
          ? `, delivered ${result.delivery.spansReceived}/${result.delivery.spansExpected} spans ` +
            `${result.delivery.logsReceived}/${result.delivery.logsExpected} logs`
          : ''),
    );
  }
}
sink.stop();

const summary = summarise(results, variants);
const report = {
  startedAt: startedAt.toISOString(),
  finishedAt: new Date().toISOString(),
  machine: { ...machine, loadAverageAtEnd: loadavg()[0] ?? Number.NaN },
  settings: { ...settings, quick, variants, aEnv },
  summary,
  rounds: results,
};
printReport(report);
const jsonPath =
  options.json ??
  join(repoRoot, '.bench', `bench-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
mkdirSync(dirname(jsonPath), { recursive: true });
writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
console.log(`\nJSON: ${jsonPath}`);
