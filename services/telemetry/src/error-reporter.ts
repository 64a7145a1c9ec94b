// Reports OpenTelemetry's own problems (exporter failures, SDK diagnostics) without flooding the log:
// when the collector is down every export fails, every few seconds, for as long as it stays down.
// The first occurrence of a message is written at once; repeats within `windowMs` are only counted
// and summarised by the next write after the window. Memory is bounded by `maxKeys`.

export interface ReportLine {
  level: 'warn' | 'error';
  msg: string;
  /** How many identical messages were suppressed since the previous line for this message. */
  suppressed: number;
}

export interface RateLimiterOptions {
  windowMs: number;
  maxKeys?: number;
  now?: () => number;
  write: (line: ReportLine) => void;
}

interface Entry {
  lastWrite: number;
  suppressed: number;
}

export class RateLimitedReporter {
  readonly #entries = new Map<string, Entry>();
  readonly #windowMs: number;
  readonly #maxKeys: number;
  readonly #now: () => number;
  readonly #write: (line: ReportLine) => void;

  constructor(options: RateLimiterOptions) {
    this.#windowMs = options.windowMs;
    this.#maxKeys = options.maxKeys ?? 100;
    this.#now = options.now ?? Date.now;
    this.#write = options.write;
  }

  report(level: ReportLine['level'], message: string): void {
    // Group by message without volatile parts (ids, addresses, counters) so retries collapse.
    const key = `${level}:${normalise(message)}`;
    const now = this.#now();
    const entry = this.#entries.get(key);
    if (entry && now - entry.lastWrite < this.#windowMs) {
      entry.suppressed += 1;
      return;
    }
    if (!entry && this.#entries.size >= this.#maxKeys) {
      // Forget the oldest message; at worst it is written again once.
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.delete(key);
    this.#entries.set(key, { lastWrite: now, suppressed: 0 });
    this.#write({ level, msg: message, suppressed: entry?.suppressed ?? 0 });
  }
}

function normalise(message: string): string {
  return message
    .slice(0, 300)
    .replace(/[0-9a-f]{8,}/gi, '#')
    .replace(/\d+/g, '#');
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return code === undefined ? error.message : `${error.message} (code ${String(code)})`;
  }
  if (typeof error === 'string') return error;
  try {
    return JSON.stringify(error);
  } catch {
    return String(error);
  }
}
