// One variant, one round: start-to-ready, RSS idle, the high fixed rate (and for A, delivery), p50
// and p99 at the fixed rate, saturation with wrk, CPU per request, RSS after the load.
import { setTimeout as sleep } from 'node:timers/promises';
import { fixedRate, saturate, type FixedRateResult, type SaturationResult } from './measure.ts';
import type { Settings } from './options.ts';
import { pairCpu, pairRss, startPair, stopPair, type PairOptions } from './pair.ts';
import type { Sink } from './sink.ts';
import type { RoundResult, Variant } from './summary.ts';

export interface RoundOptions extends PairOptions {
  settings: Settings;
  sink: Sink;
  wrk: string;
}

export async function oneRound(
  variant: Variant,
  round: number,
  options: RoundOptions,
): Promise<RoundResult> {
  const { settings, sink } = options;
  const pair = await startPair(variant, options);
  try {
    await sleep(settings['idle-seconds'] * 1000);
    const rssIdle = pairRss(pair);
    const url = `${pair.gatewayUrl}/user/123`;
    await fixedRate(url, settings.rate, settings['warmup-seconds']);

    // The high fixed rate: every variant's p99 under it; for A, whether everything is delivered.
    const high = settings['delivery-seconds'] > 0;
    const before = high && variant === 'A' ? await sink.settledCounts(6000, 20_000) : undefined;
    const load = high
      ? await fixedRate(url, settings['delivery-rate'], settings['delivery-seconds'])
      : { ok: 0, notOk: 0, failed: 0, p50Ms: Number.NaN, p99Ms: Number.NaN };
    let delivery: RoundResult['delivery'];
    if (before) {
      // Every answered request is one trace of 4 spans and one access-log record per service.
      const answered = load.ok + load.notOk;
      // Every span is in the sink within the batch delay (5 s) plus an export; then quiet.
      const after = await sink.settledCounts(6000, 30_000);
      delivery = {
        requests: answered,
        failed: load.failed,
        spansExpected: 4 * answered,
        spansReceived: after.spans - before.spans,
        logsExpected: 2 * answered,
        logsReceived: after.logRecords - before.logRecords,
      };
    }

    const cpu0 = pairCpu(pair);
    const fixed: FixedRateResult = await fixedRate(url, settings.rate, settings['rate-seconds']);
    const fixedCpu = pairCpu(pair) - cpu0;

    const cpu1 = pairCpu(pair);
    const saturation: SaturationResult = await saturate(
      options.wrk,
      url,
      settings.connections,
      settings['saturation-seconds'],
    );
    const saturationCpu = pairCpu(pair) - cpu1;
    const rssAfter = pairRss(pair);
    const served = load.ok + load.notOk + fixed.ok + saturation.requests;

    return {
      variant,
      round,
      readyMs: pair.readyMs,
      rssIdle,
      rssAfter,
      requestsBeforeRssAfter: served,
      fixedRate: { ...fixed, cpuPer10k: (fixedCpu / Math.max(1, fixed.ok)) * 10_000 },
      highRate: { p50Ms: load.p50Ms, p99Ms: load.p99Ms, failed: load.failed },
      saturation: {
        ...saturation,
        cpuPer10k: (saturationCpu / Math.max(1, saturation.requests)) * 10_000,
      },
      delivery,
    };
  } finally {
    await stopPair(pair);
  }
}
