// Measuring tools of the benchmark: process CPU and memory from /proc, an open-loop fixed-rate load,
// wrk at saturation, and the sink collector's counters. Each returns plain numbers; run.ts decides
// what to do with them.

import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return clockTicks;
}

/** User + system CPU seconds of a process, all its threads (utime and stime of /proc/<pid>/stat). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the ")" closing the command name: state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond();
}

export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN) / 1024;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return (
    sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN
  );
}

export interface FixedRateResult {
  sent: number;
  /** Answered 200. */
  ok: number;
  /** Answered with another status. */
  notOk: number;
  /** No answer (connection error, 60 s timeout). */
  failed: number;
  p50Ms: number;
  p99Ms: number;
}

/**
 * Open-loop load: request i is due at start + i/rate whatever happened to the others, and its latency
 * counts from that due time, so a stalled server cannot hide its stall by slowing the load down.
 */
export async function fixedRate(
  url: string,
  rate: number,
  seconds: number,
): Promise<FixedRateResult> {
  const total = Math.round(rate * seconds);
  const latencies: number[] = [];
  let ok = 0;
  let notOk = 0;
  let failed = 0;
  const pending: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(
      fetch(url, { signal: AbortSignal.timeout(60_000) })
        .then(async (response) => {
          await response.arrayBuffer();
          if (response.status === 200) ok += 1;
          else notOk += 1;
        })
        .catch(() => {
          failed += 1;
        })
        .finally(() => latencies.push(performance.now() - due)),
    );
  }
  await Promise.all(pending);
  latencies.sort((a, b) => a - b);
  return {
    sent: total,
    ok,
    notOk,
    failed,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
  };
}

export interface SaturationResult {
  requests: number;
  seconds: number;
  perSecond: number;
  /** Non-2xx answers plus socket errors. */
  errors: number;
}

/** wrk (a C load generator: little CPU per request, so little taken from the services) at saturation. */
export async function saturate(
  wrk: string,
  url: string,
  connections: number,
  seconds: number,
): Promise<SaturationResult> {
  const { stdout } = await run(wrk, ['-t2', `-c${connections}`, `-d${seconds}s`, url], {
    timeout: (seconds + 30) * 1000,
  });
  const number = (re: RegExp) => Number(re.exec(stdout)?.[1] ?? 0);
  const requests = number(/(\d+) requests in/);
  const took = /requests in ([\d.]+)(ms|s|m)/.exec(stdout);
  const unit = took?.[2] === 'ms' ? 0.001 : took?.[2] === 'm' ? 60 : 1;
  const elapsed = Number(took?.[1] ?? seconds) * unit;
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(
    stdout,
  );
  const errors =
    number(/Non-2xx or 3xx responses: (\d+)/) +
    (socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0);
  return { requests, seconds: elapsed, perSecond: requests / elapsed, errors };
}

export interface SinkCounts {
  spans: number;
  logRecords: number;
}

/** What the sink collector has accepted so far (sum over its receivers and transports). */
export async function sinkCounts(metricsUrl: string): Promise<SinkCounts> {
  const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(5000) })).text();
  const sum = (name: string) =>
    text
      .split('\n')
      .filter((line) => new RegExp(`^${name}(_total)?[{ ]`).test(line))
      .reduce((total, line) => total + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  return {
    spans: sum('otelcol_receiver_accepted_spans'),
    logRecords: sum('otelcol_receiver_accepted_log_records'),
  };
}
