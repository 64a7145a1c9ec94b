// Traffic statistics: counts by status and latency percentiles. Pure (no I/O, injectable random).
// Latencies are kept in a fixed-size reservoir (Algorithm R), so percentiles are exact up to
// `capacity` samples and a uniform sample beyond: memory stays bounded however long it runs.
// The live line uses a sliding window of the most recent samples.

export type Status = number | 'error';

export interface Snapshot {
  total: number;
  elapsedMs: number;
  /** Requests per second since the start. */
  rate: number;
  byStatus: Record<string, number>;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** Same percentiles over the recent window (the live line). */
  recent: { rate: number; p50: number; p95: number };
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
  readonly #window: { at: number; latencyMs: number }[] = [];
  readonly #byStatus = new Map<string, number>();
  readonly #random: () => number;
  #total = 0;
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
    this.#max = Math.max(this.#max, latencyMs);
    if (this.#total <= this.#capacity) {
      this.#reservoir[this.#total - 1] = latencyMs;
    } else {
      const slot = Math.floor(this.#random() * this.#total);
      if (slot < this.#capacity) this.#reservoir[slot] = latencyMs;
    }
    this.#window.push({ at, latencyMs });
    if (this.#window.length > this.#windowSize) this.#window.shift();
  }

  snapshot(now: number, startedAt: number, recentMs = 5_000): Snapshot {
    const elapsedMs = Math.max(0, now - startedAt);
    const all = sortedCopy(this.#reservoir, Math.min(this.#total, this.#capacity));
    const recentSamples = this.#window.filter((s) => now - s.at <= recentMs);
    const recent = sortedCopy(recentSamples.map((s) => s.latencyMs));
    const recentSpan = Math.min(recentMs, elapsedMs);
    return {
      total: this.#total,
      elapsedMs,
      rate: elapsedMs > 0 ? (this.#total * 1000) / elapsedMs : 0,
      byStatus: Object.fromEntries(
        [...this.#byStatus.entries()].sort(([a], [b]) => a.localeCompare(b)),
      ),
      p50: percentile(all, 50),
      p95: percentile(all, 95),
      p99: percentile(all, 99),
      max: this.#max,
      recent: {
        rate: recentSpan > 0 ? (recentSamples.length * 1000) / recentSpan : 0,
        p50: percentile(recent, 50),
        p95: percentile(recent, 95),
      },
    };
  }
}

const ms = (value: number) => `${value < 10 ? value.toFixed(1) : Math.round(value)}ms`;

function statusCounts(byStatus: Record<string, number>): string {
  const entries = Object.entries(byStatus);
  return entries.length === 0 ? 'no responses yet' : entries.map(([s, n]) => `${s}:${n}`).join(' ');
}

/** The live progress line. */
export function formatProgress(s: Snapshot, phase?: string): string {
  const seconds = Math.floor(s.elapsedMs / 1000);
  return [
    `t=${seconds}s`,
    ...(phase ? [`[${phase}]`] : []),
    `sent ${s.total}`,
    `rate ${s.recent.rate.toFixed(1)}/s`,
    statusCounts(s.byStatus),
    `p50 ${ms(s.recent.p50)} p95 ${ms(s.recent.p95)}`,
  ].join('  ');
}

/** The end-of-run summary (several lines). */
export function formatSummary(s: Snapshot, extra: Record<string, number> = {}): string {
  const lines = [
    `requests   ${s.total} in ${(s.elapsedMs / 1000).toFixed(1)}s (${s.rate.toFixed(1)}/s)`,
    `statuses   ${statusCounts(s.byStatus)}`,
    `latency    p50 ${ms(s.p50)}  p95 ${ms(s.p95)}  p99 ${ms(s.p99)}  max ${ms(s.max)}`,
  ];
  for (const [name, value] of Object.entries(extra)) {
    if (value > 0) lines.push(`${name.padEnd(10)} ${value}`);
  }
  return lines.join('\n');
}
