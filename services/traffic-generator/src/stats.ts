// Traffic statistics: counts by status and latency percentiles. Pure (no I/O, injectable random).
// Latencies are kept in a fixed-size reservoir (Algorithm R), so percentiles are exact up to
// `capacity` samples and a uniform sample beyond: memory stays bounded however long it runs.
// The live line uses a sliding window of the most recent samples.
// A request either gets an HTTP status (any: a 502 is an answer) or fails without one, recorded
// under the failure's name (ECONNREFUSED, TimeoutError...). Latency percentiles are over answers.

/** An HTTP status, or the name of the failure when no response came. */
export type Status = number | string;

const isFailure = (key: string) => !/^\d+$/.test(key);

export interface Snapshot {
  total: number;
  elapsedMs: number;
  /** Requests per second since the start. */
  rate: number;
  /** Count by HTTP status and by failure name. */
  byStatus: Record<string, number>;
  /** Count by failure name (requests that got no HTTP response). */
  errors: Record<string, number>;
  failed: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** Over the recent window (the live line); `answered` = samples behind the percentiles. */
  recent: { rate: number; answered: number; p50: number; p95: number };
}

/** Nearest-rank percentile of an ascending array; 0 for an empty one. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((Math.min(100, Math.max(0, p)) / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? 0;
}

function sortedCopy(values: ArrayLike<number>, length = values.length): Float64Array {
  return Float64Array.from({ length }, (_, i) => values[i] ?? 0).sort();
}

export class TrafficStats {
  readonly #capacity: number;
  readonly #reservoir: Float64Array;
  readonly #windowSize: number;
  readonly #window: { at: number; latencyMs: number; answered: boolean }[] = [];
  readonly #byStatus = new Map<string, number>();
  readonly #random: () => number;
  #total = 0;
  #answered = 0;
  #max = 0;

  constructor(options: { capacity?: number; windowSize?: number; random?: () => number } = {}) {
    this.#capacity = options.capacity ?? 100_000;
    this.#reservoir = new Float64Array(this.#capacity);
    this.#windowSize = options.windowSize ?? 2_000;
    this.#random = options.random ?? Math.random;
  }

  get total(): number {
    return this.#total;
  }

  count(status: Status): number {
    return this.#byStatus.get(String(status)) ?? 0;
  }

  record(status: Status, latencyMs: number, at: number): void {
    this.#total += 1;
    const key = String(status);
    this.#byStatus.set(key, (this.#byStatus.get(key) ?? 0) + 1);
    const answered = !isFailure(key);
    this.#window.push({ at, latencyMs, answered });
    if (this.#window.length > this.#windowSize) this.#window.shift();
    if (!answered) return;
    this.#answered += 1;
    this.#max = Math.max(this.#max, latencyMs);
    if (this.#answered <= this.#capacity) {
      this.#reservoir[this.#answered - 1] = latencyMs;
    } else {
      const slot = Math.floor(this.#random() * this.#answered);
      if (slot < this.#capacity) this.#reservoir[slot] = latencyMs;
    }
  }

  snapshot(now: number, startedAt: number, recentMs = 5_000): Snapshot {
    const elapsedMs = Math.max(0, now - startedAt);
    const all = sortedCopy(this.#reservoir, Math.min(this.#answered, this.#capacity));
    const recentSamples = this.#window.filter((s) => now - s.at <= recentMs);
    const recent = sortedCopy(recentSamples.filter((s) => s.answered).map((s) => s.latencyMs));
    const recentSpan = Math.min(recentMs, elapsedMs);
    const byStatus = Object.fromEntries(
      [...this.#byStatus.entries()].sort(([a], [b]) => a.localeCompare(b)),
    );
    const errors = Object.fromEntries(Object.entries(byStatus).filter(([key]) => isFailure(key)));
    return {
      total: this.#total,
      elapsedMs,
      rate: elapsedMs > 0 ? (this.#total * 1000) / elapsedMs : 0,
      byStatus,
      errors,
      failed: this.#total - this.#answered,
      p50: percentile(all, 50),
      p95: percentile(all, 95),
      p99: percentile(all, 99),
      max: this.#max,
      recent: {
        rate: recentSpan > 0 ? (recentSamples.length * 1000) / recentSpan : 0,
        answered: recent.length,
        p50: percentile(recent, 50),
        p95: percentile(recent, 95),
      },
    };
  }
}

/**
 * Statistics per phase of a run, plus the whole run. A request belongs to the phase it was sent in
 * (its response may arrive in the next one), so a phase's line never shows another phase's
 * latencies.
 */
export class PhasedStats {
  readonly overall: TrafficStats;
  readonly #phases = new Map<string, { stats: TrafficStats; startedAt: number }>();
  readonly #startedAt: number;
  readonly #options: ConstructorParameters<typeof TrafficStats>[0];
  #current: string | undefined;

  constructor(startedAt: number, options: ConstructorParameters<typeof TrafficStats>[0] = {}) {
    this.#startedAt = startedAt;
    this.#options = options;
    this.overall = new TrafficStats(options);
  }

  get phase(): string | undefined {
    return this.#current;
  }

  /** Requests sent from `at` on belong to `phase`. */
  enter(phase: string, at: number): void {
    this.#current = phase;
    if (!this.#phases.has(phase)) {
      this.#phases.set(phase, { stats: new TrafficStats(this.#options), startedAt: at });
    }
  }

  /** Call when a request is sent; call the result with its outcome. */
  send(): (status: Status, latencyMs: number, at: number) => void {
    const phase = this.#current === undefined ? undefined : this.#phases.get(this.#current);
    return (status, latencyMs, at) => {
      this.overall.record(status, latencyMs, at);
      phase?.stats.record(status, latencyMs, at);
    };
  }

  /** The live line: the current phase's requests (or the run's); undefined before any outcome. */
  progress(now: number): string | undefined {
    const phase = this.#current === undefined ? undefined : this.#phases.get(this.#current);
    const s = phase
      ? phase.stats.snapshot(now, phase.startedAt)
      : this.overall.snapshot(now, this.#startedAt);
    if (s.total === 0) return undefined;
    return formatProgress(s, { phase: this.#current, runElapsedMs: now - this.#startedAt });
  }

  /** The whole run, then one line per phase (when there were phases). */
  summary(now: number, extra: Record<string, number> = {}): string {
    const lines = [formatSummary(this.overall.snapshot(now, this.#startedAt), extra)];
    const phases = [...this.#phases.entries()];
    if (phases.length > 0) lines.push('by phase (requests sent in it):');
    phases.forEach(([name, { stats, startedAt }], i) => {
      const endedAt = phases[i + 1]?.[1].startedAt ?? now;
      lines.push(`  ${formatPhase(name, stats.snapshot(endedAt, startedAt))}`);
    });
    return lines.join('\n');
  }
}

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
