// The statistics as text: the live progress line, the end-of-run summary, one line per phase. Pure.

import type { Snapshot } from './stats.ts';

const ms = (value: number) => `${value < 10 ? value.toFixed(1) : Math.round(value)}ms`;

function statusCounts(byStatus: Record<string, number>): string {
  const entries = Object.entries(byStatus);
  return entries.length === 0 ? 'no responses yet' : entries.map(([s, n]) => `${s}:${n}`).join(' ');
}

/** Failures by name, most frequent first: `ECONNREFUSED ×158, UND_ERR_SOCKET ×2`. */
export function formatErrors(errors: Record<string, number>): string {
  return Object.entries(errors)
    .sort(([, a], [, b]) => b - a)
    .map(([name, n]) => `${name} ×${n}`)
    .join(', ');
}

/** The live progress line. `runElapsedMs` (default: the snapshot's) is the `t=` of the run. */
export function formatProgress(
  s: Snapshot,
  options: { phase?: string | undefined; runElapsedMs?: number } = {},
): string {
  const seconds = Math.floor((options.runElapsedMs ?? s.elapsedMs) / 1000);
  return [
    `t=${seconds}s`,
    ...(options.phase ? [`[${options.phase}]`] : []),
    `sent ${s.total}`,
    `rate ${s.recent.rate.toFixed(1)}/s`,
    statusCounts(s.byStatus),
    s.recent.answered > 0
      ? `p50 ${ms(s.recent.p50)} p95 ${ms(s.recent.p95)}`
      : 'no responses in the last 5s',
  ].join('  ');
}

/** The end-of-run summary (several lines). */
export function formatSummary(s: Snapshot, extra: Record<string, number> = {}): string {
  const statuses = Object.fromEntries(
    Object.entries(s.byStatus).filter(([key]) => !(key in s.errors)),
  );
  const lines = [
    `requests   ${s.total} in ${(s.elapsedMs / 1000).toFixed(1)}s (${s.rate.toFixed(1)}/s)`,
    `statuses   ${statusCounts(statuses)}`,
  ];
  if (s.failed > 0) lines.push(`errors     ${formatErrors(s.errors)} (no HTTP response)`);
  if (s.total > s.failed) {
    lines.push(`latency    p50 ${ms(s.p50)}  p95 ${ms(s.p95)}  p99 ${ms(s.p99)}  max ${ms(s.max)}`);
  }
  for (const [name, value] of Object.entries(extra)) {
    if (value > 0) lines.push(`${name.padEnd(10)} ${value}`);
  }
  return lines.join('\n');
}

/** One phase of the summary on one line. */
export function formatPhase(name: string, s: Snapshot): string {
  const parts = [name.padEnd(9), `${s.total} requests`.padEnd(13), statusCounts(s.byStatus)];
  if (s.total > s.failed) parts.push(`p50 ${ms(s.p50)}  p95 ${ms(s.p95)}  p99 ${ms(s.p99)}`);
  return parts.join('  ');
}
