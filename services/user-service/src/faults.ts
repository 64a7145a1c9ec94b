// Run-time fault injection, so a walkthrough can stage an incident and end it without a restart:
//   PUT /admin/faults {"errorRate": 0..1, "latencyMs": 0..60000}  replaces the settings
//   GET /admin/faults                                               shows them
//   DELETE /admin/faults                                            resets to no faults
// Injected latency is added to every database query; injected errors fail the query (the request
// answers 500, the query span and the server span carry the error).

export interface FaultSettings {
  /** Probability (0..1) that a query fails. */
  errorRate: number;
  /** Extra latency added to every query, in milliseconds. */
  latencyMs: number;
}

export const MAX_FAULT_LATENCY_MS = 60_000;
export const NO_FAULTS: Readonly<FaultSettings> = Object.freeze({ errorRate: 0, latencyMs: 0 });

export type ParseResult = { ok: true; value: FaultSettings } | { ok: false; errors: string[] };

/**
 * Validates a PUT body. Both fields are optional; an omitted field is 0 (PUT replaces the settings).
 * Unknown fields are rejected so a typo ("errorrate") is not silently ignored.
 */
export function parseFaultSettings(body: unknown): ParseResult {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return {
      ok: false,
      errors: ['body must be a JSON object like {"errorRate":0.5,"latencyMs":200}'],
    };
  }
  const errors: string[] = [];
  const input = body as Record<string, unknown>;
  for (const key of Object.keys(input)) {
    if (key !== 'errorRate' && key !== 'latencyMs')
      errors.push(`unknown field "${key.slice(0, 50)}"`);
  }
  const { errorRate = 0, latencyMs = 0 } = input;
  if (
    typeof errorRate !== 'number' ||
    !Number.isFinite(errorRate) ||
    errorRate < 0 ||
    errorRate > 1
  ) {
    errors.push('errorRate must be a number between 0 and 1');
  }
  if (
    typeof latencyMs !== 'number' ||
    !Number.isInteger(latencyMs) ||
    latencyMs < 0 ||
    latencyMs > MAX_FAULT_LATENCY_MS
  ) {
    errors.push(`latencyMs must be an integer between 0 and ${MAX_FAULT_LATENCY_MS}`);
  }
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, value: { errorRate: errorRate as number, latencyMs: latencyMs as number } };
}

export class Faults {
  #settings: FaultSettings = { ...NO_FAULTS };
  readonly #random: () => number;

  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  get settings(): FaultSettings {
    return { ...this.#settings };
  }

  set(settings: FaultSettings): void {
    this.#settings = { ...settings };
  }

  reset(): void {
    this.#settings = { ...NO_FAULTS };
  }

  get active(): boolean {
    return this.#settings.errorRate > 0 || this.#settings.latencyMs > 0;
  }

  /** Draws whether this query fails. errorRate 0 never fails, 1 always fails. */
  shouldFail(): boolean {
    return this.#settings.errorRate > 0 && this.#random() < this.#settings.errorRate;
  }
}
