// Prometheus down under traffic: the gateway queues the metrics and replays them, every exported point
// stored once and in order, no counter counted twice.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { poll } from '../../support/backend-api.ts';
import { byStatus, pacedTraffic } from '../../support/paced-traffic.ts';
import { OtlpReceiver } from '../../support/otlp-receiver.ts';
import { PORTS } from '../../support/topology.ts';
import { assertCounters, trafficDuring } from './delivery.ts';
import {
  assertAnswered,
  METRIC_INTERVAL_MS,
  ms,
  OUTAGE_MS,
  report,
  setFaults,
  stack,
  startServices,
} from './fixture.ts';

export function prometheusOutageTests(): void {
  describe('Prometheus outage: the gateway queues metrics and replays them in order', () => {
    test('60 s without Prometheus: every exported point stored once, in order, no double count', async (t) => {
      const topo = stack(t);
      if (!topo) return;
      // The services' metrics go through a tee that keeps each export once the agent accepted it: what
      // Prometheus must hold in the end, point by point.
      const tee = await OtlpReceiver.start(0, { forwardTo: `127.0.0.1:${PORTS.agentOtlpGrpc}` });
      t.after(() => tee.stop());
      const s = await startServices('s3', { OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: tee.endpoint });
      // One request of each outcome first, so that every counter series exists before the window.
      await setFaults(s, { errorRate: 1 });
      const warmup = [
        ...(await pacedTraffic({ baseUrl: s.gateway.url, ratePerSecond: 10, count: 1 })),
      ];
      await setFaults(s, { errorRate: 0 });
      warmup.push(...(await pacedTraffic({ baseUrl: s.gateway.url, ratePerSecond: 10, count: 5 })));
      await assertCounters(topo, s, warmup, 30_000);
      const instance = `${s.tag}-api-gateway`;
      const series = `api_user_requests_total{instance="${instance}"}`;
      const windowStart = Date.now() / 1000;
      await setFaults(s, { errorRate: 0.05 });
      let downAt = 0;
      let upAt = 0;
      const { sent } = await trafficDuring(s, 100, async () => {
        await sleep(3000);
        await topo.stopPrometheus();
        downAt = Date.now();
        await sleep(OUTAGE_MS);
        await topo.startPrometheus();
        upAt = Date.now();
        await sleep(3000);
      });
      assertAnswered(sent);
      report(
        `sent ${sent.length} requests during the Prometheus outage test: ${JSON.stringify(byStatus(sent))}`,
      );
      // user_lookups_total is left out: a timed-out call's lookup still ends as found or not_found.
      await assertCounters(topo, s, [...warmup, ...sent], 120_000, false);
      report(`counters complete ${ms(upAt)} after Prometheus returned`);

      // Every point of the counter that the agent accepted since the window began (and the one before:
      // the increase counts from there), per outcome, in the order exported; the last one exported is
      // the cut-off (later ones may still be on their way).
      const windowStartMs = Math.floor(windowStart * 1000) - 1000;
      const exported = new Map<string, [number, number][]>();
      for (const p of tee.metrics) {
        if (p.name !== 'api.user.requests' || p.resource['service.instance.id'] !== instance)
          continue;
        const atMs = Number(p.timeUnixNano / 1_000_000n);
        if (atMs < windowStartMs) continue;
        const key = String(p.attributes.outcome);
        exported.set(key, [...(exported.get(key) ?? []), [atMs, p.value ?? Number.NaN]]);
      }
      const cutoffMs = Math.max(...[...exported.values()].flat().map(([atMs]) => atMs));
      // Raw samples of the same window, polled until Prometheus holds the cut-off point of every series.
      const rawSamples = async (): Promise<Map<string, [number, number][]>> => {
        const endS = Date.now() / 1000;
        const raw = await topo.prometheus.query(
          `${series}[${Math.ceil(endS - windowStart) + 5}s]`,
          endS,
        );
        const stored = new Map<string, [number, number][]>();
        for (const r of raw) {
          const values = (r.values ?? [])
            .map(([ts, v]) => [Math.round(Number(ts) * 1000), Number(v)] as [number, number])
            .filter(([atMs]) => atMs >= windowStartMs && atMs <= cutoffMs);
          stored.set(String(r.metric.outcome), values);
        }
        return stored;
      };
      const stored = await poll(
        'Prometheus holds every exported point up to the cut-off',
        async (note) => {
          const got = await rawSamples();
          const behind = [...exported].filter(
            ([key, points]) => got.get(key)?.at(-1)?.[0] !== points.at(-1)?.[0],
          );
          note(`${behind.length} series behind`);
          return behind.length === 0 ? got : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 1000 },
      );
      let points = 0;
      let maxGapMs = 0;
      for (const [key, expected] of exported) {
        points += expected.length;
        const got = stored.get(key) ?? [];
        for (let i = 1; i < got.length; i++) {
          maxGapMs = Math.max(maxGapMs, (got[i]?.[0] ?? 0) - (got[i - 1]?.[0] ?? 0));
        }
        // Same timestamps and values, in the same order: no point lost, none stored twice or out of
        // order (a replayed duplicate or a reordered batch would differ here).
        assert.deepEqual(
          got,
          expected,
          `outcome=${key}: Prometheus holds exactly the exported points`,
        );
      }
      const increase = [...stored.values()].reduce(
        (sum, v) => sum + ((v.at(-1)?.[1] ?? 0) - (v[0]?.[1] ?? 0)),
        0,
      );
      // The longest gap is reported, not asserted: a starved export timer on a busy machine is no loss.
      report(
        `${points} points exported and stored in the window, longest gap ${maxGapMs} ms (export interval ` +
          `${METRIC_INTERVAL_MS} ms), Prometheus down ${ms(downAt, upAt)}`,
      );
      assert.ok(
        [...exported.values()].every((v) => v.some(([atMs]) => atMs > downAt && atMs < upAt)),
        'every series has points exported while Prometheus was down',
      );
      const resets = await topo.prometheus.query(
        `sum(resets(${series}[${Math.ceil(Date.now() / 1000 - windowStart) + 5}s]))`,
      );
      assert.equal(Number(resets[0]?.value?.[1] ?? 0), 0, 'no counter reset');
      assert.equal(increase, sent.length, 'the increase over the window equals the requests sent');
      await s.stop();
    });
  });
}
