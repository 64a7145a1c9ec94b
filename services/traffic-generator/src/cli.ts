#!/usr/bin/env node
// Traffic generator for the api-gateway: `npm run traffic -- --rate 20 --duration 60 --scenario mixed`.
// Live progress line on a terminal (a line every 5 s when stdout is not a terminal, e.g. in compose),
// a summary at the end. Exit code 0 after a run, 1 when the gateway is unreachable or an option is
// invalid, 130 after a second Ctrl-C.

import { setTimeout as sleep } from 'node:timers/promises';
import { parseOptions, USAGE, UsageError, type TrafficOptions } from './options.ts';
import {
  dueRequests,
  incidentPhase,
  pickRequest,
  type Phase,
  type RequestKind,
} from './scenario.ts';
import { formatProgress, formatSummary, TrafficStats } from './stats.ts';

const TICK_MS = 20;

/** The first error code along the `cause` chain (ECONNREFUSED...), else the innermost message. */
function errorCode(error: unknown): string {
  let current: unknown = error;
  let message = String(error);
  for (let i = 0; i < 5 && current; i++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    if (current instanceof Error) message = current.message;
    current = (current as { cause?: unknown }).cause;
  }
  return message;
}

/** Waits until GET /healthz answers (up to `waitSeconds`); a clear error otherwise. */
async function checkGateway(options: TrafficOptions): Promise<void> {
  const deadline = Date.now() + options.wait * 1000;
  for (;;) {
    try {
      const response = await fetch(`${options.gatewayUrl}/healthz`, {
        signal: AbortSignal.timeout(2000),
      });
      await response.body?.cancel();
      if (response.ok) return;
      throw Object.assign(new Error(`HTTP ${response.status}`), {
        code: `HTTP ${response.status}`,
      });
    } catch (error) {
      if (Date.now() >= deadline) {
        throw new Error(
          `cannot reach the api-gateway at ${options.gatewayUrl} (${errorCode(error)}).\n` +
            'Start it first (npm run start:api-gateway, or docker compose up), or pass --gateway-url.',
          { cause: error },
        );
      }
      await sleep(500);
    }
  }
}

async function setFaults(options: TrafficOptions, on: boolean): Promise<string> {
  const url = `${options.userServiceUrl}/admin/faults`;
  try {
    const response = on
      ? await fetch(url, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ errorRate: options.errorRate, latencyMs: options.latencyMs }),
          signal: AbortSignal.timeout(5000),
        })
      : await fetch(url, { method: 'DELETE', signal: AbortSignal.timeout(5000) });
    const body = await response.text();
    return response.ok
      ? `user-service faults ${on ? 'on' : 'off'}: ${body}`
      : `WARNING: user-service answered ${response.status} to the fault change: ${body}`;
  } catch (error) {
    return `WARNING: could not ${on ? 'switch on' : 'reset'} faults at ${url} (${errorCode(error)})`;
  }
}

export async function run(options: TrafficOptions): Promise<number> {
  await checkGateway(options);
  const tty = process.stdout.isTTY === true;
  const stats = new TrafficStats();
  const kinds: Record<RequestKind, number> = { valid: 0, unknown: 0, invalid: 0 };
  let skipped = 0;
  let inFlight = 0;
  let sent = 0;
  let phase: Phase | undefined = options.scenario === 'incident' ? 'baseline' : undefined;
  let faultsOn = false;
  let stopping = false;
  const durationMs = options.duration * 1000;
  const startedAt = Date.now();

  const note = (line: string) => process.stdout.write(`${tty ? '\r\x1b[2K' : ''}${line}\n`);
  note(
    `traffic: ${options.scenario} scenario, ${options.rate}/s ` +
      `${options.duration > 0 ? `for ${options.duration}s` : 'until Ctrl-C'} -> ${options.gatewayUrl}`,
  );

  const sendOne = async () => {
    const planned = pickRequest(Math.random);
    kinds[planned.kind] += 1;
    inFlight += 1;
    const start = performance.now();
    try {
      const response = await fetch(`${options.gatewayUrl}${planned.path}`, {
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      await response.arrayBuffer();
      stats.record(response.status, performance.now() - start, Date.now());
    } catch {
      stats.record('error', performance.now() - start, Date.now());
    } finally {
      inFlight -= 1;
    }
  };

  const onSignal = () => {
    if (stopping) process.exit(130);
    stopping = true;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let lastProgress = 0;
  const progressEveryMs = tty ? 500 : 5000;
  while (!stopping) {
    const now = Date.now();
    const elapsed = now - startedAt;
    if (durationMs > 0 && elapsed >= durationMs) break;
    if (phase) {
      const next = incidentPhase(elapsed, durationMs);
      if (next !== phase) {
        phase = next;
        faultsOn = phase === 'incident';
        note(await setFaults(options, faultsOn));
      }
    }
    const due = dueRequests(elapsed, options.rate) - sent;
    for (let i = 0; i < due; i++) {
      sent += 1;
      if (inFlight >= options.concurrency) {
        skipped += 1;
        continue;
      }
      void sendOne();
    }
    if (now - lastProgress >= progressEveryMs) {
      lastProgress = now;
      const line = formatProgress(stats.snapshot(now, startedAt), phase);
      if (tty) process.stdout.write(`\r\x1b[2K${line}`);
      else process.stdout.write(`${line}\n`);
    }
    await sleep(TICK_MS);
  }

  // Let requests in flight finish (bounded by their own timeout).
  const drainUntil = Date.now() + options.timeoutMs;
  while (inFlight > 0 && Date.now() < drainUntil) await sleep(TICK_MS);
  if (faultsOn) note(await setFaults(options, false));

  note('');
  note(
    formatSummary(stats.snapshot(Date.now(), startedAt), {
      ...kinds,
      skipped,
      unfinished: inFlight,
    }),
  );
  return 0;
}

async function main(): Promise<void> {
  let options: TrafficOptions;
  try {
    options = parseOptions(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`traffic: ${error.message}\n\n${USAGE}`);
    process.exit(1);
  }
  if (options.help) {
    process.stdout.write(USAGE);
    return;
  }
  try {
    process.exitCode = await run(options);
  } catch (error) {
    process.stderr.write(`traffic: ${(error as Error).message}\n`);
    process.exit(1);
  }
}

await main();
