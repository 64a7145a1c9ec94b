// Preloaded into the benchmarked services by `npm run bench -- --probe DIR` (node --import): once a
// second, the main thread's event-loop delay (perf_hooks.monitorEventLoopDelay), its garbage
// collections (count, total and longest pause, major ones), heap used and the process's CPU time,
// as one JSON line in DIR/<service>-<pid>.jsonl. It shows when the event loop stalls and what the
// runtime was doing meanwhile; `node scripts/bench/probe-summary.ts DIR` prints it.

import { appendFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import {
  constants,
  monitorEventLoopDelay,
  PerformanceObserver,
  type PerformanceEntry,
} from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';

const dir = process.env.BENCH_PROBE_DIR;
if (isMainThread && dir) {
  // Started from services/<name> (the bench's plain pair: the same directories).
  const service = basename(process.cwd());
  const file = join(dir, `${service}-${process.pid}.jsonl`);
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  const zero = () => ({ n: 0, ms: 0, maxMs: 0, major: 0 });
  let gc = zero();
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gc.n += 1;
      gc.ms += entry.duration;
      gc.maxMs = Math.max(gc.maxMs, entry.duration);
      const kind = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) gc.major += 1;
    }
  }).observe({ entryTypes: ['gc'] });
  let cpu = process.cpuUsage();
  const started = performance.now();
  setInterval(() => {
    const used = process.cpuUsage(cpu);
    cpu = process.cpuUsage();
    const line = {
      s: Math.round((performance.now() - started) / 1000),
      delayMaxMs: delay.max / 1e6,
      delayP99Ms: delay.percentile(99) / 1e6,
      gc,
      heapMiB: process.memoryUsage().heapUsed / 2 ** 20,
      cpuMs: (used.user + used.system) / 1000,
    };
    appendFileSync(file, `${JSON.stringify(line)}\n`);
    delay.reset();
    gc = zero();
  }, 1000).unref();
}
