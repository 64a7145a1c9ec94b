// What one setting changes, measured finely enough to see a few per cent on a shared machine.
// Two instrumented pairs run side by side, exporting to the same sink collector: X as shipped and Y
// with the extra environment. wrk saturates X and Y in turns (alternating which goes first), and each
// slice's CPU per request of Y is divided by that of its neighbouring X slice, so both see the same
// machine load. It prints the per-slice ratios and their median; it asserts nothing.
//   npm run bench:paired -- --env LOG_LEVEL=warn [--slices 10] [--seconds 5]
//   npm run bench:paired -- --env NOTHING=1     the noise floor: X and Y identical
//   npm run bench:paired -- --x-root DIR --env NOTHING=1   a code change: X runs the services of
//                                         another built checkout (e.g. the previous commit), Y this one

import { spawn, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { freePorts } from '../lib/processes.ts';
import { cpuSeconds, rssMiB, saturate, sinkCounts } from './measure.ts';
import { spread, type Spread } from './summary.ts';

const args = parseArgs({
  options: {
    env: { type: 'string', default: '' },
    slices: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '50' },
    'x-root': { type: 'string' },
  },
}).values;
const extra: Record<string, string> = Object.fromEntries(
  args.env
    .split(',')
    .filter((pair) => pair.includes('='))
    .map((pair) => [pair.slice(0, pair.indexOf('=')).trim(), pair.slice(pair.indexOf('=') + 1)]),
);
const slices = Number(args.slices);
const seconds = Number(args.seconds);
const connections = Number(args.connections);
for (const [name, value] of Object.entries({ slices, seconds, connections })) {
  if (!Number.isInteger(value) || value < 1) {
    console.error(`bench:paired: --${name} must be a positive integer`);
    process.exit(2);
  }
}
if (Object.keys(extra).length === 0) {
  console.error('bench:paired: --env KEY=VALUE[,KEY=VALUE] is required (what Y runs with)');
  process.exit(2);
}

const repoRoot = join(import.meta.dirname, '..', '..');
const xRoot = args['x-root'] ?? repoRoot;
if (
  !statSync(join(xRoot, 'services', 'api-gateway', 'dist', 'server.js'), { throwIfNoEntry: false })
) {
  console.error(
    `bench:paired: --x-root ${xRoot} has no built services (npm ci, npm run build there)`,
  );
  process.exit(2);
}
const toolBin = join(
  process.env.NOS_CACHE_DIR ?? join(process.env.HOME ?? '', '.cache', 'node-observability-stack'),
  'bin',
);
const wrk = ['/usr/bin/wrk', '/usr/local/bin/wrk', join(toolBin, 'wrk')].find((path) => {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
});
if (!wrk) throw new Error('bench: wrk not found (apt-get install wrk, brew install wrk)');

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});
const spawnKept = (...params: Parameters<typeof spawn>) => {
  const child = spawn(...params);
  children.add(child);
  return child;
};

const [otlpPort, metricsPort] = await freePorts(2);
spawnKept(
  join(toolBin, 'otelcol'),
  ['--config', join(import.meta.dirname, 'sink-collector.yaml')],
  {
    env: {
      ...process.env,
      SINK_OTLP_PORT: String(otlpPort),
      SINK_METRICS_PORT: String(metricsPort),
    },
    stdio: 'ignore',
  },
);
for (let i = 0; ; i++) {
  try {
    await sinkCounts(`http://127.0.0.1:${metricsPort}/metrics`);
    break;
  } catch (error) {
    if (i > 300) throw new Error('sink collector did not start', { cause: error });
    await sleep(100);
  }
}

const baseEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_') && !k.startsWith('npm_')),
);
async function start(
  root: string,
  name: string,
  port: number,
  env: Record<string, string>,
): Promise<number> {
  const child = spawnKept(
    process.execPath,
    ['--import', '@nos/telemetry/register', 'dist/server.js'],
    {
      cwd: join(root, 'services', name),
      env: {
        ...baseEnv,
        LOG_LEVEL: 'info',
        DB_LATENCY_MS: '5',
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${otlpPort}`,
        PORT: String(port),
        ...env,
      },
      stdio: 'ignore',
    },
  );
  for (const deadline = performance.now() + 60_000; performance.now() < deadline;) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/readyz`);
      await response.arrayBuffer();
      if (response.ok) return child.pid ?? 0;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  throw new Error(`${name} not ready within 60 s`);
}

interface Pair {
  pids: number[];
  url: string;
}
async function startPair(root: string, env: Record<string, string>): Promise<Pair> {
  const [userPort, gatewayPort] = (await freePorts(2)) as [number, number];
  const user = await start(root, 'user-service', userPort, env);
  const gateway = await start(root, 'api-gateway', gatewayPort, {
    ...env,
    USER_SERVICE_URL: `http://127.0.0.1:${userPort}`,
  });
  return { pids: [gateway, user], url: `http://127.0.0.1:${gatewayPort}/user/123` };
}
const cpu = (pair: Pair) => pair.pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
const rss = (pair: Pair) => pair.pids.map((pid) => rssMiB(pid).toFixed(0)).join(' / ');

const x = await startPair(xRoot, {});
const y = await startPair(repoRoot, extra);
await sleep(3000);
console.log(
  `Y = X with ${JSON.stringify(extra)}${xRoot === repoRoot ? '' : `, X from ${xRoot}`}; ` +
    `RSS idle X ${rss(x)}, Y ${rss(y)} MiB`,
);
for (const pair of [x, y]) await saturate(wrk, pair.url, connections, 3); // JIT warm-up

const cpuRatios: number[] = [];
const throughputRatios: number[] = [];
for (let i = 0; i < slices; i++) {
  const result = new Map<Pair, { cpuPer10k: number; perSecond: number }>();
  for (const pair of i % 2 ? [y, x] : [x, y]) {
    const before = cpu(pair);
    const load = await saturate(wrk, pair.url, connections, seconds);
    const cpuPer10k = ((cpu(pair) - before) / Math.max(1, load.requests)) * 10_000;
    result.set(pair, { cpuPer10k, perSecond: load.perSecond });
  }
  const [rx, ry] = [result.get(x), result.get(y)] as [
    { cpuPer10k: number; perSecond: number },
    { cpuPer10k: number; perSecond: number },
  ];
  cpuRatios.push(ry.cpuPer10k / rx.cpuPer10k);
  throughputRatios.push(ry.perSecond / rx.perSecond);
  console.log(
    `slice ${i + 1}: X ${rx.cpuPer10k.toFixed(2)} CPU s/10k, ${rx.perSecond.toFixed(0)} req/s; ` +
      `Y ${ry.cpuPer10k.toFixed(2)}, ${ry.perSecond.toFixed(0)}`,
  );
}
const show = (s: Spread) => `${s.median.toFixed(3)} (${s.min.toFixed(3)}-${s.max.toFixed(3)})`;
console.log(`CPU per request Y/X: ${show(spread(cpuRatios))}`);
console.log(`throughput Y/X:      ${show(spread(throughputRatios))}`);
console.log(`RSS after load: X ${rss(x)}, Y ${rss(y)} MiB`);
process.exit(0);
