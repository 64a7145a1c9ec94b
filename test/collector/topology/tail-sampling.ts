// Tail sampling on two gateway replicas: every error and slow trace kept whole, about the sampled share
// of the rest, span metrics and the service graph counting every request.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { poll } from '../../support/backend-api.ts';
import { pacedTraffic } from '../../support/paced-traffic.ts';
import type { ReceivedSpan } from '../../support/otlp-receiver.ts';
import { sumOf } from '../../support/topology.ts';
import {
  assertAnswered,
  report,
  setFaults,
  SPANS_PER_REQUEST,
  stack,
  startServices,
} from './fixture.ts';

export function tailSamplingTests(): void {
  describe('tail sampling on two gateway replicas', () => {
    test('10 %: every error and slow trace kept whole, ~10 % of the rest, span metrics and service graph count 100 %', async (t) => {
      const topo = stack(t);
      if (!topo) return;
      // Two fresh replicas sampling 10 %: the series they derive are theirs alone (once the agent has
      // delivered everything of the earlier scenarios to the first gateway).
      await poll(
        "the agent's queue is empty",
        async () => ((await topo.agentQueueSize()) === 0 ? true : undefined),
        { timeoutMs: 60_000, intervalMs: 500 },
      );
      // The derived series' instance ids of the gateways so far (new at every start): left out below.
      const earlier = (
        await topo.prometheus.query('count by (instance) (traces_service_graph_request_total)')
      ).map((r) => String(r.metric.instance));
      await topo.removeGateway(1);
      await topo.startGateway(2, { tailSamplingPercentage: 10 });
      await topo.startGateway(3, { tailSamplingPercentage: 10 });
      await poll(
        'the agent routes to both gateways',
        async (note) => {
          const backends = sumOf(await topo.agentMetrics(), 'otelcol_loadbalancer_num_backends');
          note(`${backends} backends`);
          return backends === 2 ? true : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 500 },
      );
      const s = await startServices('s4');
      const normal = await pacedTraffic({
        baseUrl: s.gateway.url,
        ratePerSecond: 100,
        count: 2000,
      });
      await setFaults(s, { errorRate: 1 });
      const errors = await pacedTraffic({ baseUrl: s.gateway.url, ratePerSecond: 100, count: 200 });
      await setFaults(s, { latencyMs: 700 });
      const slow = await pacedTraffic({ baseUrl: s.gateway.url, ratePerSecond: 50, count: 100 });
      await setFaults(s, {});
      const all = [...normal, ...errors, ...slow];
      assertAnswered(all);
      assert.ok(
        errors.every((r) => r.status === 502),
        'errorRate 1: every request fails',
      );
      assert.ok(slow.every((r) => r.latencyMs > 700 && r.status !== 502));
      report(
        `tail sampling: sent ${normal.length} normal, ${errors.length} error, ${slow.length} slow`,
      );

      const mustKeep = new Set([...errors, ...slow].map((r) => r.traceId));
      const kept = await poll(
        'every error and slow trace in the Tempo stand-in, whole',
        async (note) => {
          const spans = topo.spans();
          const perTrace = new Map<string, number>();
          for (const span of spans) {
            if (mustKeep.has(span.traceId)) {
              perTrace.set(span.traceId, (perTrace.get(span.traceId) ?? 0) + 1);
            }
          }
          const whole = [...perTrace.values()].filter((n) => n === SPANS_PER_REQUEST).length;
          note(`${whole}/${errors.length + slow.length}`);
          return whole === errors.length + slow.length ? spans : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 1000 },
      );
      // Every kept trace is whole (including the sampled share of the normal ones).
      const byTrace = new Map<string, ReceivedSpan[]>();
      for (const span of kept)
        byTrace.set(span.traceId, [...(byTrace.get(span.traceId) ?? []), span]);
      const sentTraces = new Set(all.map((r) => r.traceId));
      for (const [traceId, spans] of byTrace) {
        if (!sentTraces.has(traceId)) continue;
        assert.equal(
          new Set(spans.map((x) => x.spanId)).size,
          SPANS_PER_REQUEST,
          `trace ${traceId}`,
        );
        assert.equal(spans.length, SPANS_PER_REQUEST, `trace ${traceId}: no span twice`);
      }
      // The share of the rest: 200s and 404s (an ERROR client span, but no failed request) well
      // under the latency threshold, binomial(n, 0.1). 4 standard deviations either side: a false
      // alarm about once in 15,000 runs.
      const notFound = normal.filter((r) => r.status === 404);
      const keptNotFound = notFound.filter((r) => byTrace.has(r.traceId)).length;
      const fast = normal.filter(
        (r) => r.latencyMs < 400 && (r.status === 200 || r.status === 404),
      );
      const keptFast = fast.filter((r) => byTrace.has(r.traceId)).length;
      const sigma = Math.sqrt(fast.length * 0.1 * 0.9);
      const [low, high] = [fast.length * 0.1 - 4 * sigma, fast.length * 0.1 + 4 * sigma];
      report(
        `kept ${keptFast} of ${fast.length} normal traces (${((100 * keptFast) / fast.length).toFixed(1)} %, ` +
          `accepted ${Math.ceil(low)}..${Math.floor(high)}); of them 404s ${keptNotFound}/${notFound.length}, ` +
          `errors ${errors.length}/${errors.length}, ` +
          `slow ${slow.length}/${slow.length}`,
      );
      assert.ok(
        keptFast >= low && keptFast <= high,
        `${keptFast} of ${fast.length} within 10 % ± 4σ`,
      );

      // Derived from every span, before sampling, summed over both gateways.
      const gateways = earlier.length > 0 ? earlier.join('|') : '^$';
      const expected = all.length;
      await poll(
        'span metrics and service graph count every request',
        async (note) => {
          const q = async (expr: string) =>
            Number((await topo.prometheus.query(expr))[0]?.value?.[1] ?? NaN);
          const calls = await q(
            `sum(traces_span_metrics_calls_total{service_name="api-gateway",span_kind="SPAN_KIND_SERVER",instance="${s.tag}-api-gateway"})`,
          );
          const edges = await q(
            `sum(traces_service_graph_request_total{client="api-gateway",server="user-service",instance!~"${gateways}"})`,
          );
          const perGateway = await topo.prometheus.query(
            `sum by (instance) (traces_service_graph_request_total{client="api-gateway",server="user-service",instance!~"${gateways}"})`,
          );
          note(
            `calls ${calls}, edges ${edges} ${JSON.stringify(perGateway.map((r) => r.value?.[1]))}`,
          );
          return calls === expected && edges === expected ? true : undefined;
        },
        { timeoutMs: 90_000, intervalMs: 2000 },
      );
      report(`span metrics and service graph: ${expected} requests counted over both gateways`);
      await s.stop();
    });
  });
}
