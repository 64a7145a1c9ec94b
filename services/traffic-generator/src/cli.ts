#!/usr/bin/env node
// Traffic generator for the api-gateway: `npm run traffic -- --rate 20 --duration 60 --scenario mixed`.
// Live progress line on a terminal (a line every 5 s when stdout is not a terminal, e.g. in compose),
// a summary at the end (per phase for the incident scenario). Exit codes: see USAGE (options.ts).

import { setTimeout as sleep } from 'node:timers/promises';
import { parseOptions, USAGE, UsageError, type TrafficOptions } from './options.ts';
import { dueRequests, incidentPhase, pickRequest, type RequestKind } from './scenario.ts';
import { failureName } from './failure.ts';
import { PhasedStats } from './phased-stats.ts';
import { formatErrors } from './stats-format.ts';

const TICK_MS = 20;

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
          `cannot reach the api-gateway at ${options.gatewayUrl} (${failureName(error)}).\n` +
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
    return `WARNING: could not ${on ? 'switch on' : 'reset'} faults at ${url} (${failureName(error)})`;
  }
}

export async function run(options: TrafficOptions): Promise<number> {
  await checkGateway(options);
  const tty = process.stdout.isTTY === true;
  const kinds: Record<RequestKind, number> = { valid: 0, unknown: 0, invalid: 0 };
  let skipped = 0;
  let inFlight = 0;
  let sent = 0;
  let faultsOn = false;
  let stopping = false;
  const durationMs = options.duration * 1000;
  const startedAt = Date.now();
  const stats = new PhasedStats(startedAt);
  if (options.scenario === 'incident') stats.enter('baseline', startedAt);

  const note = (line: string) => process.stdout.write(`${tty ? '\r\x1b[2K' : ''}${line}\n`);
  note(
    `traffic: ${options.scenario} scenario, ${options.rate}/s ` +
      `${options.duration > 0 ? `for ${options.duration}s` : 'until Ctrl-C'} -> ${options.gatewayUrl}`,
  );

  const sendOne = async () => {
    const planned = pickRequest(Math.random);
    kinds[planned.kind] += 1;
    inFlight += 1;
    const record = stats.send();
    const start = performance.now();
    try {
      const response = await fetch(`${options.gatewayUrl}${planned.path}`, {
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      await response.arrayBuffer();
      record(response.status, performance.now() - start, Date.now());
    } catch (error) {
      record(failureName(error), performance.now() - start, Date.now());
    } finally {
      inFlight -= 1;
    }
  };

  // Ctrl-C in a terminal reaches this process twice when started by npm (the terminal signals the
  // process group, and npm forwards the signal): the same signal within a second counts once.
  let firstSignal: { signal: NodeJS.Signals; at: number } | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    const now = Date.now();
    if (firstSignal?.signal === signal && now - firstSignal.at < 1000) return;
    if (stopping) process.exit(130);
    firstSignal = { signal, at: now };
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
    if (stats.phase) {
      const next = incidentPhase(elapsed, durationMs);
      if (next !== stats.phase) {
        stats.enter(next, now);
        faultsOn = next === 'incident';
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
    // The first line once there is something to show, then one per interval.
    const line = now - lastProgress >= progressEveryMs ? stats.progress(now) : undefined;
    if (line) {
      lastProgress = now;
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
  note(stats.summary(Date.now(), { ...kinds, skipped, unfinished: inFlight }));
  const { failed, total, errors } = stats.overall.snapshot(Date.now(), startedAt);
  if (failed > 0) {
    process.stderr.write(
      `traffic: ${failed} of ${total} requests got no HTTP response (${formatErrors(errors)}): exit code 1\n`,
    );
    return 1;
  }
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
