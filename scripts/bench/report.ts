// The benchmark's summary printed as Markdown tables: the per-round comparisons with their goals, then
// this machine's numbers per variant.
import type { Metric, Spread, Summary, Variant } from './summary.ts';

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
