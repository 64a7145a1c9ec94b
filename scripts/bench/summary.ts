// The benchmark's summary: medians and spreads per variant, and ratios taken within each round (the
// variants of one round ran minutes apart on the same machine load).
import type { FixedRateResult } from './measure.ts';

export const VARIANTS = ['A', 'B', 'C', 'Z', 'Z_esm'] as const;
export type Variant = (typeof VARIANTS)[number];

interface PerService {
  gateway: number;
  user: number;
}

export interface RoundResult {
  variant: Variant;
  round: number;
  readyMs: PerService;
  rssIdle: PerService;
  rssAfter: PerService;
  requestsBeforeRssAfter: number;
  fixedRate: FixedRateResult & { cpuPer10k: number };
  /** The high fixed rate (the delivery load). */
  highRate: { p50Ms: number; p99Ms: number; failed: number };
  saturation: { requests: number; perSecond: number; errors: number; cpuPer10k: number };
  delivery:
    | {
        requests: number;
        failed: number;
        spansExpected: number;
        spansReceived: number;
        logsExpected: number;
        logsReceived: number;
      }
    | undefined;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function spread(values: readonly number[]): Spread {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, n };
  const mid = Math.floor(n / 2);
  const median =
    n % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { median, min: sorted[0] as number, max: sorted[n - 1] as number, n };
}

const METRICS = {
  saturationPerSecond: (r) => r.saturation.perSecond,
  cpuPer10kSaturation: (r) => r.saturation.cpuPer10k,
  cpuPer10kFixedRate: (r) => r.fixedRate.cpuPer10k,
  p50Ms: (r) => r.fixedRate.p50Ms,
  p99Ms: (r) => r.fixedRate.p99Ms,
  p99MsHighRate: (r) => r.highRate.p99Ms,
  rssIdleGateway: (r) => r.rssIdle.gateway,
  rssIdleUser: (r) => r.rssIdle.user,
  rssAfterGateway: (r) => r.rssAfter.gateway,
  rssAfterUser: (r) => r.rssAfter.user,
  requestsBeforeRssAfter: (r) => r.requestsBeforeRssAfter,
  readyMsGateway: (r) => r.readyMs.gateway,
  readyMsUser: (r) => r.readyMs.user,
  deliverySpans: (r) =>
    r.delivery ? r.delivery.spansReceived / r.delivery.spansExpected : Number.NaN,
  deliveryLogs: (r) =>
    r.delivery ? r.delivery.logsReceived / r.delivery.logsExpected : Number.NaN,
} satisfies Record<string, (r: RoundResult) => number>;
export type Metric = keyof typeof METRICS;

/** Per-round comparisons of A with the other variants. */
const RATIOS: Record<string, { of: Metric; against: Variant; how: 'ratio' | 'difference' }> = {
  'throughput A/C': { of: 'saturationPerSecond', against: 'C', how: 'ratio' },
  'throughput A/B': { of: 'saturationPerSecond', against: 'B', how: 'ratio' },
  'throughput A/Z': { of: 'saturationPerSecond', against: 'Z', how: 'ratio' },
  'throughput A/Z_esm': { of: 'saturationPerSecond', against: 'Z_esm', how: 'ratio' },
  'CPU per request A/C': { of: 'cpuPer10kSaturation', against: 'C', how: 'ratio' },
  'CPU per request A/B': { of: 'cpuPer10kSaturation', against: 'B', how: 'ratio' },
  'CPU per request A/Z': { of: 'cpuPer10kSaturation', against: 'Z', how: 'ratio' },
  'CPU per request A/Z_esm': { of: 'cpuPer10kSaturation', against: 'Z_esm', how: 'ratio' },
  'CPU per request at the fixed rate A/C': { of: 'cpuPer10kFixedRate', against: 'C', how: 'ratio' },
  'CPU per request at the fixed rate A/Z_esm': {
    of: 'cpuPer10kFixedRate',
    against: 'Z_esm',
    how: 'ratio',
  },
  'p99 added A-C (ms)': { of: 'p99Ms', against: 'C', how: 'difference' },
  'p99 added A-B (ms)': { of: 'p99Ms', against: 'B', how: 'difference' },
  'p99 at the high rate A/C': { of: 'p99MsHighRate', against: 'C', how: 'ratio' },
  'p99 at the high rate A/Z_esm': { of: 'p99MsHighRate', against: 'Z_esm', how: 'ratio' },
  'RSS added A-C idle, gateway (MiB)': { of: 'rssIdleGateway', against: 'C', how: 'difference' },
  'RSS added A-C idle, user-service (MiB)': { of: 'rssIdleUser', against: 'C', how: 'difference' },
  'RSS added A-C after load, gateway (MiB)': {
    of: 'rssAfterGateway',
    against: 'C',
    how: 'difference',
  },
  'RSS added A-C after load, user-service (MiB)': {
    of: 'rssAfterUser',
    against: 'C',
    how: 'difference',
  },
  'start-to-ready A/B, gateway': { of: 'readyMsGateway', against: 'B', how: 'ratio' },
  'start-to-ready A/B, user-service': { of: 'readyMsUser', against: 'B', how: 'ratio' },
  'start-to-ready added A-C, gateway (ms)': {
    of: 'readyMsGateway',
    against: 'C',
    how: 'difference',
  },
};

export interface Summary {
  perVariant: Partial<Record<Variant, Record<Metric, Spread>>>;
  comparisons: Record<string, Spread>;
}

export function summarise(results: readonly RoundResult[], variants: readonly Variant[]): Summary {
  const perVariant: Summary['perVariant'] = {};
  for (const variant of variants) {
    const rounds = results.filter((r) => r.variant === variant);
    perVariant[variant] = Object.fromEntries(
      Object.entries(METRICS).map(([name, get]) => [name, spread(rounds.map(get))]),
    ) as Record<Metric, Spread>;
  }
  const comparisons: Record<string, Spread> = {};
  for (const [label, { of, against, how }] of Object.entries(RATIOS)) {
    const values: number[] = [];
    for (const a of results.filter((r) => r.variant === 'A')) {
      const other = results.find((r) => r.variant === against && r.round === a.round);
      if (!other) continue;
      const [x, y] = [METRICS[of](a), METRICS[of](other)];
      values.push(how === 'ratio' ? x / y : x - y);
    }
    if (values.length > 0) comparisons[label] = spread(values);
  }
  return { perVariant, comparisons };
}
