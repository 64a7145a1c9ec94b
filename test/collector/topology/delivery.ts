// What arrived of the requests sent, request by request: spans and log records at the Tempo and Loki
// stand-ins (each once), the services' counters in Prometheus, and traffic kept up while a part of the
// topology is down.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { poll } from '../../support/backend-api.ts';
import { byStatus, OUTCOME, pacedTraffic, type Sent } from '../../support/paced-traffic.ts';
import { Topology } from '../../support/topology.ts';
import { report, SPANS_PER_REQUEST, type Services } from './fixture.ts';

/** The stdout records (log lines) of the services that belong to these traces. */
export function printedRecords(s: Services, traces: Set<string>) {
  return [...s.gateway.records, ...s.user.records].filter((r) =>
    traces.has(String(r.trace_id ?? '')),
  );
}

export const logKey = (msg: unknown, traceId: unknown, spanId: unknown): string =>
  `${String(msg)}|${String(traceId)}|${String(spanId)}`;

export interface Delivery {
  requests: number;
  spansExpected: number;
  spansDelivered: number;
  spansDuplicated: number;
  logsExpected: number;
  logsDelivered: number;
  logsDuplicated: number;
}

/** Spans and log records of `sent` that reached the Tempo and Loki stand-ins (unique, duplicated). */
export function delivery(t: Topology, s: Services, sent: Sent[]): Delivery {
  const traces = new Set(sent.map((r) => r.traceId));
  const spans = t.spans().filter((span) => traces.has(span.traceId));
  const spanIds = new Set(spans.map((span) => span.spanId));
  const printed = printedRecords(s, traces);
  const wanted = new Set(printed.map((r) => logKey(r.msg, r.trace_id, r.span_id)));
  const logs = t.logs().filter((l) => traces.has(l.traceId));
  const logKeys = logs.map((l) => logKey(l.body, l.traceId, l.spanId));
  const uniqueLogs = new Set(logKeys.filter((k) => wanted.has(k)));
  return {
    requests: sent.length,
    spansExpected: sent.length * SPANS_PER_REQUEST,
    spansDelivered: spanIds.size,
    spansDuplicated: spans.length - spanIds.size,
    logsExpected: printed.length,
    logsDelivered: uniqueLogs.size,
    logsDuplicated: logKeys.length - uniqueLogs.size,
  };
}

export const describeDelivery = (d: Delivery): string =>
  `${d.requests} requests; spans ${d.spansDelivered}/${d.spansExpected} delivered ` +
  `(${d.spansExpected - d.spansDelivered} lost, ${d.spansDuplicated} duplicated); log records ` +
  `${d.logsDelivered}/${d.logsExpected} (${d.logsExpected - d.logsDelivered} lost, ` +
  `${d.logsDuplicated} duplicated)`;

/** Waits until every span and log record of `sent` arrived, then checks nothing arrived twice. */
export async function assertAllDelivered(
  t: Topology,
  s: Services,
  sent: Sent[],
  timeoutMs: number,
) {
  const final = await poll(
    'every span and log record of the requests at the stand-ins',
    async (note) => {
      const d = delivery(t, s, sent);
      note(describeDelivery(d));
      return d.spansDelivered === d.spansExpected && d.logsDelivered === d.logsExpected
        ? d
        : undefined;
    },
    { timeoutMs, intervalMs: 1000 },
  );
  // Anything still under way (a duplicate) would arrive within the collectors' batch timeouts.
  await sleep(1000);
  const settled = delivery(t, s, sent);
  report(describeDelivery(settled));
  assert.equal(settled.spansDuplicated, 0, 'no span arrives twice');
  assert.equal(settled.logsDuplicated, 0, 'no log record arrives twice');
  const traces = new Set(sent.map((r) => r.traceId));
  const spans = t.spans().filter((span) => traces.has(span.traceId));
  assert.equal(spans.length, final.spansExpected);
  return settled;
}

/** api_user_requests_total and user_lookups_total of these services equal the requests sent. */
export async function assertCounters(
  t: Topology,
  s: Services,
  sent: Sent[],
  timeoutMs: number,
  checkLookups = true,
) {
  const outcomes: Record<string, number> = {};
  const lookups: Record<string, number> = {};
  for (const [status, n] of Object.entries(byStatus(sent))) {
    const outcome = OUTCOME[Number(status)] ?? `status ${status}`;
    outcomes[outcome] = (outcomes[outcome] ?? 0) + n;
    const result = { 200: 'found', 404: 'not_found', 502: 'error' }[Number(status)] ?? status;
    lookups[result] = (lookups[result] ?? 0) + n;
  }
  const read = async (expr: string, label: string) =>
    Object.fromEntries(
      (await t.prometheus.query(expr)).map((r) => [r.metric[label], Number(r.value?.[1])]),
    );
  await poll(
    'the services counters in Prometheus equal the requests sent',
    async (note) => {
      const gateway = await read(
        `sum by (outcome) (api_user_requests_total{instance="${s.tag}-api-gateway"})`,
        'outcome',
      );
      const user = await read(
        `sum by (result) (user_lookups_total{instance="${s.tag}-user-service"})`,
        'result',
      );
      note(`${JSON.stringify(gateway)} ${JSON.stringify(user)}`);
      try {
        assert.deepEqual(gateway, outcomes);
        // A timed-out call's lookup still ends as found, not_found or error, which the answer does
        // not tell: with 504s, only the number of lookups is known.
        const total = (counts: Record<string, number>) =>
          Object.values(counts).reduce((sum, n) => sum + n, 0);
        if (checkLookups && lookups['504'] === undefined) assert.deepEqual(user, lookups);
        else if (checkLookups) assert.equal(total(user), total(lookups));
        return true;
      } catch {
        return undefined;
      }
    },
    { timeoutMs, intervalMs: 1000 },
  );
  report(`counters equal the requests sent: ${JSON.stringify(outcomes)}`);
}

/** Runs traffic at `rate` until `during` resolves, then returns every request's answer. */
export async function trafficDuring<T>(
  s: Services,
  rate: number,
  during: () => Promise<T>,
): Promise<{ sent: Sent[]; result: T }> {
  let done = false;
  const traffic = pacedTraffic({ baseUrl: s.gateway.url, ratePerSecond: rate, until: () => done });
  try {
    const result = await during();
    done = true;
    return { sent: await traffic, result };
  } finally {
    done = true;
    await traffic;
  }
}
