// Outages of the collector tiers under traffic: the gateway down (the agent keeps everything on disk),
// the agent killed (its persistent queue survives), and what the services' own exporters lose while
// the agent is unreachable (measured).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { poll } from '../../support/backend-api.ts';
import { byStatus, pacedTraffic, type Sent } from '../../support/paced-traffic.ts';
import { PORTS, sumOf } from '../../support/topology.ts';
import {
  assertAllDelivered,
  assertCounters,
  delivery,
  describeDelivery,
  logKey,
  printedRecords,
  trafficDuring,
} from './delivery.ts';
import {
  assertAnswered,
  MiB,
  ms,
  OUTAGE_MS,
  report,
  setFaults,
  SPANS_PER_REQUEST,
  stack,
  startServices,
} from './fixture.ts';

export function outageTests(): void {
  describe('gateway outage: the agent keeps everything on disk and delivers it once', () => {
    test('60 s without a gateway under 200 req/s: every span, log record and counter increment arrives once', async (t) => {
      const topo = stack(t);
      if (!topo) return;
      const s = await startServices('s1');
      await setFaults(s, { errorRate: 0.05 });
      const memory: number[] = [];
      let upAt = 0;
      const { sent } = await trafficDuring(s, 200, async () => {
        await sleep(3000);
        await topo.stopGateway(1);
        const downAt = Date.now();
        while (Date.now() - downAt < OUTAGE_MS) {
          memory.push(await topo.memoryBytes('agent'));
          await sleep(1000);
        }
        report(`queue at the end of the outage: ${await topo.agentQueueSize()} items`);
        await topo.startGateway(1);
        upAt = Date.now();
        await sleep(3000);
      });
      assertAnswered(sent);
      report(`sent ${sent.length} requests: ${JSON.stringify(byStatus(sent))}`);

      // The queue empties and everything in it arrives (below); how fast is reported, not asserted: a
      // loaded machine drains slower without losing anything. The poll's limit only stops a hang.
      const drained = await poll(
        "the agent's queue drained",
        async (note) => {
          memory.push(await topo.memoryBytes('agent'));
          const size = await topo.agentQueueSize();
          note(`${size} items`);
          return size === 0 ? Date.now() : undefined;
        },
        { timeoutMs: 180_000, intervalMs: 250 },
      );
      const maxMemory = Math.max(...memory);
      report(`queue drained ${ms(upAt, drained)} after the gateway returned`);
      report(`agent memory: max ${(maxMemory / MiB).toFixed(0)} MiB over ${memory.length} samples`);
      assert.ok(maxMemory < 256 * MiB, `agent memory bounded: ${(maxMemory / MiB).toFixed(0)} MiB`);

      await assertAllDelivered(topo, s, sent, 60_000);
      await assertCounters(topo, s, sent, 60_000);
      await s.stop();
    });
  });

  describe('agent restart: what the agent accepted survives kill -9 (persistent queue)', () => {
    test('requests sent while the gateway is down, the agent killed and started: every span and log record arrives once', async (t) => {
      const topo = stack(t);
      if (!topo) return;
      const s = await startServices('s2');
      await setFaults(s, { errorRate: 0.05 });
      await topo.stopGateway(1);
      const before = await topo.agentMetrics();
      const sent = await pacedTraffic({ baseUrl: s.gateway.url, ratePerSecond: 200, count: 2000 });
      assertAnswered(sent);
      const traces = new Set(sent.map((r) => r.traceId));
      const spans = sent.length * SPANS_PER_REQUEST;
      // Accepted by the receiver and past the batch processor: in the persistent queue.
      await poll(
        'the agent queued every span and log record of the requests',
        async (note) => {
          const logs = printedRecords(s, traces).length;
          const m = await topo.agentMetrics();
          const accepted = (name: string) => sumOf(m, name) - sumOf(before, name);
          const queued = (type: string) =>
            sumOf(m, 'otelcol_exporter_queue_size', { data_type: type });
          note(
            `accepted ${accepted('otelcol_receiver_accepted_spans_total')}/${spans} spans, ` +
              `${accepted('otelcol_receiver_accepted_log_records_total')}/${logs} logs; queued ` +
              `${queued('traces')} spans, ${queued('logs')} logs`,
          );
          return queued('traces') >= spans && queued('logs') >= logs ? true : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 250 },
      );
      await topo.killAgent();
      const killedAt = Date.now();
      await topo.startAgent();
      report(`agent back ${ms(killedAt)} after kill -9`);
      await topo.startGateway(1);
      report(`sent ${sent.length} requests: ${JSON.stringify(byStatus(sent))}`);
      await assertAllDelivered(topo, s, sent, 60_000);
      await s.stop();
    });
  });

  // What the services' own OTLP gRPC exporters drop while the agent is unreachable, and how long after
  // it returns: measured, not asserted (the exporters buffer in memory and give up after their timeout;
  // the gRPC channel reconnects with backoff). NOS_TOPOLOGY_MEASURE=1 adds the 60 s outage, a longer
  // export timeout and OTLP over HTTP; by default only the 5 s outage runs.
  describe("the services' exporters while the agent is down", () => {
    const variants: { outageMs: number; env: Record<string, string>; label: string }[] = [
      { outageMs: 5000, env: {}, label: 'project defaults' },
      ...(process.env.NOS_TOPOLOGY_MEASURE === '1'
        ? [
            { outageMs: 60_000, env: {}, label: 'project defaults' },
            { outageMs: 5000, env: { OTEL_EXPORTER_OTLP_TIMEOUT: '30000' }, label: 'timeout 30 s' },
            {
              outageMs: 60_000,
              env: { OTEL_EXPORTER_OTLP_TIMEOUT: '30000' },
              label: 'timeout 30 s',
            },
            // OTLP over HTTP: no gRPC channel, so no reconnect backoff after the agent returns.
            {
              outageMs: 60_000,
              env: {
                OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
                OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${PORTS.agentOtlpHttp}`,
              },
              label: 'OTLP over HTTP',
            },
          ]
        : []),
    ];
    for (const [index, variant] of variants.entries()) {
      test(`agent down ${variant.outageMs / 1000} s (${variant.label}): requests answered, losses measured`, async (t) => {
        const topo = stack(t);
        if (!topo) return;
        // The services' production export settings (5 s span batches, 10 s metric interval, 10 s timeout).
        const s = await startServices(`s2m${index}`, variant.env, false);
        let downAt = 0;
        let upAt = 0;
        const { sent } = await trafficDuring(s, 50, async () => {
          await sleep(6000);
          await topo.killAgent();
          downAt = Date.now();
          await sleep(variant.outageMs);
          await topo.startAgent();
          upAt = Date.now();
          await sleep(25_000);
        });
        assertAnswered(sent);
        // Settled: nothing more arrives for 6 s (longer than the services' 5 s batch delay).
        let last = '';
        let stableSince = Date.now();
        await poll(
          'deliveries settled',
          async () => {
            const now = JSON.stringify(delivery(topo, s, sent));
            if (now !== last) [last, stableSince] = [now, Date.now()];
            return Date.now() - stableSince > 6000 ? true : undefined;
          },
          { timeoutMs: 60_000, intervalMs: 1000 },
        );
        const d = delivery(topo, s, sent);
        const delivered = new Set(topo.spans().map((span) => span.traceId));
        const lost = sent.filter((r) => !delivered.has(r.traceId));
        const lastLost = lost.at(-1);
        // Requests with a log record printed but not delivered (their logs take a path of their own).
        const arrived = new Set(topo.logs().map((l) => logKey(l.body, l.traceId, l.spanId)));
        const logLost = sent.filter((r) =>
          printedRecords(s, new Set([r.traceId])).some(
            (p) => !arrived.has(logKey(p.msg, p.trace_id, p.span_id)),
          ),
        );
        report(
          `agent down ${ms(downAt, upAt)} (${variant.label}): ${describeDelivery(d)}; requests ` +
            `with no span delivered: ${lost.length}, sent from ${lost[0] ? ms(downAt, lost[0].startedAt) : '-'} ` +
            `to ${lastLost ? ms(downAt, lastLost.startedAt) : '-'} after the agent went down; last one ` +
            `${lastLost ? ms(upAt, lastLost.startedAt) : '-'} after it returned; requests with a log ` +
            `record lost: ${logLost.length}, sent from ${logLost[0] ? ms(downAt, logLost[0].startedAt) : '-'} ` +
            `after the agent went down to ${logLost.at(-1) ? ms(upAt, (logLost.at(-1) as Sent).startedAt) : '-'} after it returned`,
        );
        assert.equal(d.spansDuplicated, 0);
        assert.equal(d.logsDuplicated, 0);
        // Counters are cumulative: the next export after the outage carries every increment.
        await assertCounters(topo, s, sent, 60_000);
        await s.stop();
      });
    }
  });
}
