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

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePorts } from '../lib/processes.ts';
import {
  cpuSeconds,
  fixedRate,
  rssMiB,
  saturate,
  sinkCounts,
  type FixedRateResult,
  type SaturationResult,
} from './measure.ts';
import { printReport, summarise, VARIANTS, type RoundResult, type Variant } from './report.ts';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const toolBin = join(
  process.env.NOS_CACHE_DIR ?? join(process.env.HOME ?? '', '.cache', 'node-observability-stack'),
  'bin',
);

const OPTIONS = {
  rounds: { env: 'BENCH_ROUNDS', full: 5, quick: 2, help: 'alternated rounds' },
  'idle-seconds': { env: 'BENCH_IDLE_SECONDS', full: 5, quick: 2, help: 'wait before RSS idle' },
  'warmup-seconds': {
    env: 'BENCH_WARMUP_SECONDS',
    full: 5,
    quick: 3,
    help: 'load at the fixed rate after RSS idle, so the JIT has warmed up',
  },
  rate: { env: 'BENCH_RATE', full: 200, quick: 200, help: 'fixed rate for p50/p99 (req/s)' },
  'rate-seconds': { env: 'BENCH_RATE_SECONDS', full: 20, quick: 6, help: 'fixed-rate duration' },
  'delivery-rate': {
    env: 'BENCH_DELIVERY_RATE',
    full: 500,
    quick: 500,
    help: 'high fixed rate (p99; delivery of A) (req/s)',
  },
  'delivery-seconds': {
    env: 'BENCH_DELIVERY_SECONDS',
    full: 60,
    quick: 10,
    help: 'high fixed rate duration',
  },
  connections: { env: 'BENCH_CONNECTIONS', full: 50, quick: 50, help: 'wrk connections' },
  'saturation-seconds': {
    env: 'BENCH_SATURATION_SECONDS',
    full: 20,
    quick: 8,
    help: 'wrk duration',
  },
} as const;
type OptionName = keyof typeof OPTIONS;

const args = parseArgs({
  options: {
    ...Object.fromEntries(Object.keys(OPTIONS).map((name) => [name, { type: 'string' }])),
    quick: { type: 'boolean' },
    variants: { type: 'string' },
    json: { type: 'string' },
    'cpu-prof': { type: 'string' },
    probe: { type: 'string' },
    'a-env': { type: 'string' },
    help: { type: 'boolean' },
  },
}).values as Record<string, string | boolean | undefined>;

if (args.help) {
  console.log(
    'npm run bench -- [--quick] [--variants A,B,C,Z,Z_esm] [--json file] [--cpu-prof dir]',
  );
  for (const [name, o] of Object.entries(OPTIONS)) {
    console.log(
      `  --${name.padEnd(19)} ${o.env.padEnd(25)} ${o.help} (${o.full}; quick ${o.quick})`,
    );
  }
  console.log(
    '  --cpu-prof dir: variant A runs under node --cpu-prof (main thread and log worker)',
  );
  console.log('  --probe dir: event-loop delay and GC once a second, every variant (probe.ts)');
  process.exit(0);
}

const quick = args.quick === true || process.env.BENCH_QUICK === 'true';
function option(name: OptionName): number {
  const o = OPTIONS[name];
  const raw = (args[name] as string | undefined) ?? process.env[o.env];
  const value = raw === undefined ? (quick ? o.quick : o.full) : Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name}: not a number: ${raw}`);
  return value;
}
const settings = Object.fromEntries(
  (Object.keys(OPTIONS) as OptionName[]).map((name) => [name, option(name)]),
) as Record<OptionName, number>;
const variants = String(args.variants ?? process.env.BENCH_VARIANTS ?? VARIANTS.join(','))
  .split(',')
  .map((v) => VARIANTS.find((known) => known.toUpperCase() === v.trim().toUpperCase()))
  .filter((v): v is Variant => v !== undefined);
const profileDir = args['cpu-prof'] as string | undefined;
/** Event-loop delay and GC once a second, per variant and service (probe.ts). */
const probeDir = args.probe as string | undefined;
const probeArgs = probeDir ? ['--import', join(repoRoot, 'scripts', 'bench', 'probe.ts')] : [];
/** Extra environment for A, e.g. OTEL_TRACES_SAMPLER_ARG=0.1: what a knob changes. */
const aEnv: Record<string, string> = Object.fromEntries(
  String(args['a-env'] ?? process.env.BENCH_A_ENV ?? '')
    .split(',')
    .filter((pair) => pair.includes('='))
    .map((pair) => [pair.slice(0, pair.indexOf('=')).trim(), pair.slice(pair.indexOf('=') + 1)]),
);

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

const work = mkdtempSync(join(tmpdir(), 'nos-bench-'));
const children = new Set<ChildProcess>();
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

/** Starts a process with stdout discarded (as fast as a log pipe can be) and stderr kept in a file. */
function launch(
  name: string,
  command: string,
  args: string[],
  cwd: string,
  env: Record<string, string>,
) {
  const stderrFile = join(work, `${name}.stderr`);
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_') && !k.startsWith('npm_')),
  );
  const child = spawn(command, args, {
    cwd,
    // The start command runs `node` from PATH: this Node.
    env: { ...base, PATH: `${dirname(process.execPath)}:${base.PATH ?? ''}`, ...env },
    stdio: ['ignore', 'ignore', openSync(stderrFile, 'a')],
  });
  children.add(child);
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve(code ?? signal ?? 'unknown');
    }),
  );
  return { child, exited, stderr: () => readFileSync(stderrFile, 'utf8').slice(-2000) };
}
type Launched = ReturnType<typeof launch>;

async function waitReady(proc: Launched, url: string, name: string): Promise<void> {
  const deadline = performance.now() + 60_000;
  while (performance.now() < deadline) {
    if (proc.child.exitCode !== null) throw new Error(`${name} exited: ${proc.stderr()}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(10);
  }
  throw new Error(`${name} not ready within 60 s: ${proc.stderr()}`);
}

// ---- the sink collector -----------------------------------------------------------------------
const [sinkOtlpPort, sinkMetricsPort] = await freePorts(2);
const sinkMetricsUrl = `http://127.0.0.1:${sinkMetricsPort}/metrics`;
const sink = spawn(
  join(toolBin, 'otelcol'),
  ['--config', join(repoRoot, 'scripts', 'bench', 'sink-collector.yaml')],
  {
    env: {
      ...process.env,
      SINK_OTLP_PORT: String(sinkOtlpPort),
      SINK_METRICS_PORT: String(sinkMetricsPort),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  },
);
children.add(sink);
for (let i = 0; ; i++) {
  try {
    await sinkCounts(sinkMetricsUrl);
    break;
  } catch (error) {
    if (i > 300 || sink.exitCode !== null) {
      console.error(
        `bench: sink collector (${join(toolBin, 'otelcol')}) did not start: ${String(error)}`,
      );
      console.error('build it with: bash scripts/install-tools.sh');
      process.exit(1);
    }
    await sleep(100);
  }
}

// ---- one variant, one round ---------------------------------------------------------------------
interface Pair {
  gateway: Launched;
  user: Launched;
  gatewayUrl: string;
  readyMs: { gateway: number; user: number };
}

async function startPair(variant: Variant): Promise<Pair> {
  const [userPort, gatewayPort] = await freePorts(2);
  const common: Record<string, string> = { LOG_LEVEL: 'info', DB_LATENCY_MS: '5' };
  if (variant === 'A') {
    common.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${sinkOtlpPort}`;
    Object.assign(common, aEnv);
  }
  if (variant === 'B') common.OTEL_SDK_DISABLED = 'true';
  if (variant === 'Z' || variant === 'Z_esm') {
    common.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${sinkOtlpPort}`;
  }
  common.TELEMETRY_MODE = variant === 'Z' ? 'stock' : variant === 'Z_esm' ? 'stock-esm' : 'tuned';
  if (probeDir) {
    common.BENCH_PROBE_DIR = join(probeDir, variant);
    mkdirSync(common.BENCH_PROBE_DIR, { recursive: true });
  }
  // C is its own script; the others start as the services do (package.json "start", the
  // Dockerfiles' CMD): the start command with the built server.
  const command = (name: string) =>
    variant === 'C'
      ? {
          file: process.execPath,
          args: [...probeArgs, join(repoRoot, 'scripts', 'bench', 'plain-pair.ts'), name],
        }
      : {
          file: join(repoRoot, 'services', 'telemetry', 'bin', 'start.sh'),
          args: [
            ...(variant === 'A' && profileDir
              ? ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, name)}`]
              : []),
            ...probeArgs,
            'dist/server.js',
          ],
        };
  const started = async (
    name: 'user-service' | 'api-gateway',
    port: number,
    env: Record<string, string>,
  ) => {
    const t0 = performance.now();
    const { file, args } = command(name);
    const proc = launch(`${variant}-${name}`, file, args, join(repoRoot, 'services', name), {
      ...common,
      ...env,
      PORT: String(port),
    });
    await waitReady(proc, `http://127.0.0.1:${port}/readyz`, `${variant} ${name}`);
    return { proc, ms: performance.now() - t0 };
  };
  const user = await started('user-service', userPort as number, {});
  const gateway = await started('api-gateway', gatewayPort as number, {
    USER_SERVICE_URL: `http://127.0.0.1:${userPort}`,
  });
  return {
    user: user.proc,
    gateway: gateway.proc,
    gatewayUrl: `http://127.0.0.1:${gatewayPort}`,
    readyMs: { user: user.ms, gateway: gateway.ms },
  };
}

const pids = (pair: Pair) => [pair.gateway.child.pid ?? 0, pair.user.child.pid ?? 0];
const pairCpu = (pair: Pair) => pids(pair).reduce((sum, pid) => sum + cpuSeconds(pid), 0);
const pairRss = (pair: Pair) => ({
  gateway: rssMiB(pair.gateway.child.pid ?? 0),
  user: rssMiB(pair.user.child.pid ?? 0),
});

/** Waits until the sink's counts stop changing for `quietMs` (bounded), and returns them. */
async function settledSinkCounts(quietMs: number, maxMs: number) {
  const deadline = performance.now() + maxMs;
  let last = await sinkCounts(sinkMetricsUrl);
  let since = performance.now();
  while (performance.now() < deadline) {
    await sleep(250);
    const now = await sinkCounts(sinkMetricsUrl);
    if (now.spans !== last.spans || now.logRecords !== last.logRecords) {
      last = now;
      since = performance.now();
    } else if (performance.now() - since >= quietMs) {
      break;
    }
  }
  return last;
}

async function oneRound(variant: Variant, round: number): Promise<RoundResult> {
  const pair = await startPair(variant);
  try {
    await sleep(settings['idle-seconds'] * 1000);
    const rssIdle = pairRss(pair);
    const url = `${pair.gatewayUrl}/user/123`;
    await fixedRate(url, settings.rate, settings['warmup-seconds']);

    // The high fixed rate: every variant's p99 under it; for A, whether everything is delivered.
    const high = settings['delivery-seconds'] > 0;
    const before = high && variant === 'A' ? await settledSinkCounts(6000, 20_000) : undefined;
    const load = high
      ? await fixedRate(url, settings['delivery-rate'], settings['delivery-seconds'])
      : { ok: 0, notOk: 0, failed: 0, p50Ms: Number.NaN, p99Ms: Number.NaN };
    let delivery: RoundResult['delivery'];
    if (before) {
      // Every answered request is one trace of 4 spans and one access-log record per service.
      const answered = load.ok + load.notOk;
      // Every span is in the sink within the batch delay (5 s) plus an export; then quiet.
      const after = await settledSinkCounts(6000, 30_000);
      delivery = {
        requests: answered,
        failed: load.failed,
        spansExpected: 4 * answered,
        spansReceived: after.spans - before.spans,
        logsExpected: 2 * answered,
        logsReceived: after.logRecords - before.logRecords,
      };
    }

    const cpu0 = pairCpu(pair);
    const fixed: FixedRateResult = await fixedRate(url, settings.rate, settings['rate-seconds']);
    const fixedCpu = pairCpu(pair) - cpu0;

    const cpu1 = pairCpu(pair);
    const saturation: SaturationResult = await saturate(
      wrk as string,
      url,
      settings.connections,
      settings['saturation-seconds'],
    );
    const saturationCpu = pairCpu(pair) - cpu1;
    const rssAfter = pairRss(pair);
    const served = load.ok + load.notOk + fixed.ok + saturation.requests;

    return {
      variant,
      round,
      readyMs: pair.readyMs,
      rssIdle,
      rssAfter,
      requestsBeforeRssAfter: served,
      fixedRate: { ...fixed, cpuPer10k: (fixedCpu / Math.max(1, fixed.ok)) * 10_000 },
      highRate: { p50Ms: load.p50Ms, p99Ms: load.p99Ms, failed: load.failed },
      saturation: {
        ...saturation,
        cpuPer10k: (saturationCpu / Math.max(1, saturation.requests)) * 10_000,
      },
      delivery,
    };
  } finally {
    await stopPair(pair);
  }
}

async function stopPair(pair: Pair): Promise<void> {
  for (const proc of [pair.gateway, pair.user]) proc.child.kill('SIGTERM');
  const timer = setTimeout(() => {
    for (const proc of [pair.gateway, pair.user]) proc.child.kill('SIGKILL');
  }, 15_000);
  await Promise.all([pair.gateway.exited, pair.user.exited]);
  clearTimeout(timer);
}

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
    const result = await oneRound(variant, round);
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
sink.kill('SIGTERM');

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
  (args.json as string | undefined) ??
  join(repoRoot, '.bench', `bench-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
mkdirSync(dirname(jsonPath), { recursive: true });
writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
console.log(`\nJSON: ${jsonPath}`);
