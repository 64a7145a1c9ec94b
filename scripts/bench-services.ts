// Measures the two services (reports, asserts nothing): start-to-ready time, RSS idle and after
// BENCH_REQUESTS (default 10,000) requests through the gateway, throughput and latency, shutdown.
// Both run with their production start command and PRODUCTION telemetry settings (10 s metric
// interval, default batch delays), exporting to an in-process OTLP receiver.
//   npm run build && npm run bench:services
// Knobs: BENCH_REQUESTS, BENCH_CONCURRENCY, BENCH_LOG_LEVEL, BENCH_NODE_OPTIONS.

import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { TrafficStats } from '../services/traffic-generator/src/stats.ts';
import { OtlpReceiver } from '../test/support/otlp-receiver.ts';
import {
  startService,
  type ServiceName,
  type ServiceProcess,
} from '../test/support/service-process.ts';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 10_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 50);

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
  return Math.round((kb / 1024) * 10) / 10;
}

/** From spawning `npm start` to the first 200 from /readyz (what an orchestrator waits for). */
async function startTimed(
  name: ServiceName,
  env: Record<string, string>,
): Promise<{ service: ServiceProcess; readyMs: number; nodeStartupMs: number }> {
  const spawnedAt = performance.now();
  // Resolves once /readyz answers 200.
  const service = await startService(name, env, { fastTelemetry: false });
  const readyMs = Math.round(performance.now() - spawnedAt);
  // The "ready" line reaches stdout through the log worker thread, possibly after /readyz answered.
  const ready = await service.waitForRecord((r) => r.msg === 'ready', 2000).catch(() => undefined);
  return {
    service,
    readyMs,
    nodeStartupMs: ready ? Number(ready.startup_ms) : Number.NaN,
  };
}

const receiver = await OtlpReceiver.start();
const otel = {
  OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
  LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
  // e.g. BENCH_NODE_OPTIONS=--max-old-space-size=96 to see the services under a container-like heap cap.
  ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}),
};
const user = await startTimed('user-service', otel);
const gateway = await startTimed('api-gateway', { ...otel, USER_SERVICE_URL: user.service.url });

await sleep(5000);
const idle = { gateway: rssMiB(gateway.service.pid), user: rssMiB(user.service.pid) };

const stats = new TrafficStats({ capacity: REQUESTS });
let next = 0;
const started = performance.now();
const startedAt = Date.now();
await Promise.all(
  Array.from({ length: CONCURRENCY }, async () => {
    while (next < REQUESTS) {
      next += 1;
      const id = 1 + Math.floor(Math.random() * 500);
      const t0 = performance.now();
      try {
        const response = await fetch(`${gateway.service.url}/user/${id}`);
        await response.arrayBuffer();
        stats.record(response.status, performance.now() - t0, Date.now());
      } catch {
        stats.record('error', performance.now() - t0, Date.now());
      }
    }
  }),
);
const loadSeconds = (performance.now() - started) / 1000;
const afterLoad = { gateway: rssMiB(gateway.service.pid), user: rssMiB(user.service.pid) };
await sleep(3000);
const settled = { gateway: rssMiB(gateway.service.pid), user: rssMiB(user.service.pid) };

const stopStarted = performance.now();
const [gatewayExit, userExit] = await Promise.all([gateway.service.stop(), user.service.stop()]);
const stopMs = Math.round(performance.now() - stopStarted);
await receiver.stop();

const s = stats.snapshot(Date.now(), startedAt);
const ms = (value: number) => (Number.isNaN(value) ? 'n/a' : `${value} ms`);
const row = (label: string, g: string | number, u: string | number) =>
  `| ${label.padEnd(34)} | ${String(g).padStart(11)} | ${String(u).padStart(12)} |`;
console.log(
  `\nnode ${process.version}, ${REQUESTS} requests GET /user/:id through the gateway, ${CONCURRENCY} concurrent\n`,
);
console.log(row('', 'api-gateway', 'user-service'));
console.log(`|${'-'.repeat(36)}|${'-'.repeat(13)}|${'-'.repeat(14)}|`);
console.log(row('start-to-ready (spawn npm start)', `${gateway.readyMs} ms`, `${user.readyMs} ms`));
console.log(
  row('node start-to-listen (startup_ms)', ms(gateway.nodeStartupMs), ms(user.nodeStartupMs)),
);
console.log(row('RSS idle', `${idle.gateway} MiB`, `${idle.user} MiB`));
console.log(
  row(`RSS right after ${REQUESTS} requests`, `${afterLoad.gateway} MiB`, `${afterLoad.user} MiB`),
);
console.log(row('RSS 3 s later', `${settled.gateway} MiB`, `${settled.user} MiB`));
console.log(row('exit code after SIGTERM', String(gatewayExit), String(userExit)));
console.log(
  `\nthroughput ${(REQUESTS / loadSeconds).toFixed(0)} req/s (${loadSeconds.toFixed(1)} s), ` +
    `statuses ${JSON.stringify(s.byStatus)}, latency p50 ${s.p50.toFixed(1)} ms, p95 ${s.p95.toFixed(1)} ms, ` +
    `p99 ${s.p99.toFixed(1)} ms; both stopped in ${stopMs} ms; ` +
    `telemetry received: ${receiver.spans.length} spans, ${receiver.logs.length} log records`,
);
