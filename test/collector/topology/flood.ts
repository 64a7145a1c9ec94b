// A flood of requests with client-sized attributes beside normal traffic: the normal requests keep
// their telemetry.
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { describe, test } from 'node:test';
import { poll } from '../../support/backend-api.ts';
import { byStatus, pacedTraffic, type Sent } from '../../support/paced-traffic.ts';
import { sumOf } from '../../support/topology.ts';
import { assertCounters, delivery, describeDelivery } from './delivery.ts';
import { assertAnswered, report, SPANS_PER_REQUEST, stack, startServices } from './fixture.ts';

export function floodTests(): void {
  // One client sending requests with the largest attributes Node lets through (a 14 KB query,
  // User-Agent or Host; 16 KiB of headers at most) must not cost the other requests their telemetry:
  // a span batch over the 4 MiB gRPC limit is refused by the agent and dropped whole by the SDK.
  describe('a flood of client-sized attributes beside normal traffic', () => {
    test("600 requests with 14 KB attributes among 150 normal ones: every normal request's spans, logs and counts arrive", async (t) => {
      const topo = stack(t);
      if (!topo) return;
      // The production export settings: 512-span batches, filled within the second of the flood.
      const s = await startServices('s5', {}, false);
      const big = 'q'.repeat(14 * 1024);
      const shapes = [
        { path: `/user/abc?q=${big}`, headers: {} },
        { path: '/user/abc?case=ua', headers: { 'user-agent': big } },
        { path: '/user/abc?case=host', headers: { host: `${big}.example` } },
      ];
      const agent = new Agent({ keepAlive: true, maxSockets: 20 });
      const flood = async (index: number): Promise<number> => {
        const shape = shapes[index % shapes.length] as (typeof shapes)[number];
        return new Promise<number>((resolve) => {
          const req = request(
            `${s.gateway.url}${shape.path}`,
            { agent, headers: shape.headers },
            (res) => {
              res.resume();
              res.on('end', () => resolve(res.statusCode ?? 0));
            },
          );
          // An answer that never comes counts as none (status 0) and fails the test, not hangs it.
          req.setTimeout(60_000, () => {
            resolve(0);
            req.destroy();
          });
          req.on('error', () => resolve(0));
          req.end();
        });
      };
      const refusedBefore = sumOf(
        await topo.agentMetrics(),
        'otelcol_receiver_refused_spans_total',
      );
      const [normal, floodStatuses] = await Promise.all([
        pacedTraffic({ baseUrl: s.gateway.url, ratePerSecond: 150, count: 150 }),
        Promise.all(Array.from({ length: 600 }, (_, i) => flood(i))),
      ]);
      agent.destroy();
      assertAnswered(normal);
      assert.deepEqual(byStatus(floodStatuses.map((status) => ({ status }) as Sent)), { 400: 600 });
      report(
        `flood: 600 answered 400, beside ${normal.length} normal requests ${JSON.stringify(byStatus(normal))}`,
      );

      // Measured first (the numbers of a failing run matter too), then asserted.
      let d = delivery(topo, s, normal);
      await poll(
        'every span and log record of the normal requests',
        async (note) => {
          d = delivery(topo, s, normal);
          note(describeDelivery(d));
          return d.spansDelivered === d.spansExpected && d.logsDelivered === d.logsExpected
            ? true
            : undefined;
        },
        { timeoutMs: 40_000, intervalMs: 1000 },
      ).catch(() => undefined);
      const refused =
        sumOf(await topo.agentMetrics(), 'otelcol_receiver_refused_spans_total') - refusedBefore;
      const spansPerTrace = new Map<string, number>();
      for (const span of topo.spans()) {
        spansPerTrace.set(span.traceId, (spansPerTrace.get(span.traceId) ?? 0) + 1);
      }
      const partial = normal.filter(
        (r) => (spansPerTrace.get(r.traceId) ?? 0) !== SPANS_PER_REQUEST,
      ).length;
      const exportErrors = s.gateway.stderr.filter((line) =>
        line.includes('"component":"opentelemetry"'),
      );
      report(
        `flood: normal requests ${describeDelivery(d)}; ${partial} normal traces incomplete; agent ` +
          `refused ${refused} spans; export problems reported by the gateway: ${exportErrors.length}`,
      );
      // Span metrics (from the gateway's SERVER spans) and the services' own counter, for all 750.
      const calls = async () =>
        Number(
          (
            await topo.prometheus.query(
              `sum(traces_span_metrics_calls_total{service_name="api-gateway",span_kind="SPAN_KIND_SERVER",instance="${s.tag}-api-gateway"})`,
            )
          )[0]?.value?.[1] ?? 0,
        );
      const total = normal.length + floodStatuses.length;
      let counted = 0;
      await poll(
        'span metrics count every request of the flood and the normal traffic',
        async (note) => {
          counted = await calls();
          note(`${counted}/${total}`);
          return counted === total ? true : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 2000 },
      ).catch(() => undefined);
      report(`flood: span metrics count ${counted} of ${total} gateway SERVER calls`);
      assert.equal(refused, 0, 'the agent refused no span');
      assert.equal(d.spansDelivered, d.spansExpected, 'every span of the normal requests');
      assert.equal(d.logsDelivered, d.logsExpected, 'every log record of the normal requests');
      assert.equal(counted, total, 'span metrics count every request');
      const floodSent = floodStatuses.map((status) => ({ status }) as Sent);
      await assertCounters(topo, s, [...normal, ...floodSent], 60_000, false);
      await s.stop();
    });
  });
}
