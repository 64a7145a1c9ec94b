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
