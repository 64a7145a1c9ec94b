// The benchmark's summary: medians and spreads per variant, and ratios taken within each round (the
// variants of one round ran minutes apart on the same machine load), printed as Markdown tables.
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
type Metric = keyof typeof METRICS;

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

function show(s: Spread | undefined, digits: number, scale = 1): string {
  if (!s || s.n === 0) return 'n/a';
  const f = (v: number) => (v * scale).toFixed(digits);
  return s.n === 1 ? f(s.median) : `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
}

const GOALS: Record<string, string> = {
  'throughput A/C': '≥ 0.50',
  'CPU per request A/C': '≤ 2.2',
  'CPU per request A/Z_esm': '≤ 0.80',
  'CPU per request at the fixed rate A/C': '≤ 2.2',
  'CPU per request at the fixed rate A/Z_esm': '≤ 0.80',
  'p99 added A-C (ms)': '≤ 3',
  'p99 at the high rate A/C': '≤ 3',
  'RSS added A-C idle, gateway (MiB)': '≤ 45',
  'RSS added A-C idle, user-service (MiB)': '≤ 45',
  'start-to-ready A/B, gateway': '≤ 1.5',
  'start-to-ready A/B, user-service': '≤ 1.5',
};

export function printReport(report: {
  settings: Record<string, unknown>;
  summary: Summary;
  machine: { cpu: string; cores: number; loadAverageAtStart: number; loadAverageAtEnd: number };
}): void {
  const { summary, settings } = report;
  const rounds = Number(settings.rounds);
  console.log(
    `\n## Telemetry cost: A (as shipped) vs B (OTEL_SDK_DISABLED=true), C (plain Express pair), ` +
      `Z (stock zero-code) and Z_esm (stock + ESM hook)\n` +
      `Per-round comparisons, median (min–max) of ${rounds} alternated round(s):\n`,
  );
  console.log('| comparison | value | goal |\n|---|---|---|');
  for (const [label, s] of Object.entries(summary.comparisons)) {
    const digits = label.includes('/') && !label.includes('(ms)') ? 2 : 1;
    console.log(`| ${label} | ${show(s, digits)} | ${GOALS[label] ?? ''} |`);
  }
  const a = summary.perVariant.A;
  if (a && a.deliverySpans.n > 0) {
    console.log(
      `| delivery at ${String(settings['delivery-rate'])} req/s for ${String(settings['delivery-seconds'])} s, spans / log records (%) | ` +
        `${show(a.deliverySpans, 2, 100)} / ${show(a.deliveryLogs, 2, 100)} | 100 |`,
    );
  }

  console.log(
    `\nThis machine's numbers (${report.machine.cores} × ${report.machine.cpu}, shared; load average ` +
      `${report.machine.loadAverageAtStart.toFixed(1)} → ${report.machine.loadAverageAtEnd.toFixed(1)}), ` +
      `median (min–max):\n`,
  );
  const variants = Object.keys(summary.perVariant) as Variant[];
  console.log(`| metric | ${variants.join(' | ')} |\n|---|${variants.map(() => '---|').join('')}`);
  const row = (label: string, metric: Metric, digits: number, scale = 1) =>
    console.log(
      `| ${label} | ${variants.map((v) => show(summary.perVariant[v]?.[metric], digits, scale)).join(' | ')} |`,
    );
  row(
    `saturation throughput, wrk -c ${String(settings.connections)} (req/s)`,
    'saturationPerSecond',
    0,
  );
  row('CPU s per 10,000 requests at saturation (both services)', 'cpuPer10kSaturation', 2);
  row(`CPU s per 10,000 requests at ${String(settings.rate)} req/s`, 'cpuPer10kFixedRate', 2);
  row(`p50 at ${String(settings.rate)} req/s (ms)`, 'p50Ms', 2);
  row(`p99 at ${String(settings.rate)} req/s (ms)`, 'p99Ms', 2);
  row(`p99 at ${String(settings['delivery-rate'])} req/s (ms)`, 'p99MsHighRate', 1);
  row('RSS idle, gateway (MiB)', 'rssIdleGateway', 0);
  row('RSS idle, user-service (MiB)', 'rssIdleUser', 0);
  row('RSS after load, gateway (MiB)', 'rssAfterGateway', 0);
  row('RSS after load, user-service (MiB)', 'rssAfterUser', 0);
  row('requests served before "after load"', 'requestsBeforeRssAfter', 0);
  row('start-to-ready, gateway (ms)', 'readyMsGateway', 0);
  row('start-to-ready, user-service (ms)', 'readyMsUser', 0);
}
