// Requests to the api-gateway at a fixed rate, each one recorded with its answer and its trace id (the
// traceresponse header): the ground truth that the telemetry arriving at the backends is checked
// against. Requests are started on schedule whatever the answers take (open model), so a slow answer
// does not lower the rate.
import { setTimeout as sleep } from 'node:timers/promises';

export interface Sent {
  path: string;
  /** HTTP status, or 0 when the request failed without an answer. */
  status: number;
  traceId: string;
  /** When it was sent and how long the answer took (ms). */
  startedAt: number;
  latencyMs: number;
}

/** user-service's table has ids 1..500 (services/user-service/src/simulated-database.ts). */
const UNKNOWN_IDS_FROM = 1_000_000;

/** Users 1..100 exist (200), ids from 1,000,000 do not (404); one request in five is unknown. */
export function mixedPath(index: number): string {
  return index % 5 === 4 ? `/user/${UNKNOWN_IDS_FROM + index}` : `/user/${(index % 100) + 1}`;
}

/** The answers a mixedPath() request may get: 404 or 200, or 502 when user-service fails. */
export function allowedStatuses(path: string): number[] {
  return Number(path.split('/').at(-1)) >= UNKNOWN_IDS_FROM ? [404, 502] : [200, 502];
}

const traceIdOf = (header: string | null): string =>
  /^00-([0-9a-f]{32})-[0-9a-f]{16}-0[01]$/.exec(header ?? '')?.[1] ?? '';

async function send(baseUrl: string, path: string): Promise<Sent> {
  const startedAt = Date.now();
  try {
    const response = await fetch(`${baseUrl}${path}`, { signal: AbortSignal.timeout(30_000) });
    await response.arrayBuffer();
    return {
      path,
      status: response.status,
      traceId: traceIdOf(response.headers.get('traceresponse')),
      startedAt,
      latencyMs: Date.now() - startedAt,
    };
  } catch {
    return { path, status: 0, traceId: '', startedAt, latencyMs: Date.now() - startedAt };
  }
}

/**
 * Sends `count` requests (or until `until()` is true, when count is Infinity) at `ratePerSecond`,
 * paths from `pathOf(index)`. Resolves when every answer is in.
 */
export async function pacedTraffic(options: {
  baseUrl: string;
  ratePerSecond: number;
  count?: number;
  until?: () => boolean;
  pathOf?: (index: number) => string;
}): Promise<Sent[]> {
  const pathOf = options.pathOf ?? mixedPath;
  const count = options.count ?? Infinity;
  const intervalMs = 1000 / options.ratePerSecond;
  const start = performance.now();
  const pending: Promise<Sent>[] = [];
  for (let i = 0; i < count && !(options.until?.() ?? false); i++) {
    const due = start + i * intervalMs;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    pending.push(send(options.baseUrl, pathOf(i)));
  }
  return Promise.all(pending);
}

/** Counts of answers by status code. */
export function byStatus(sent: Sent[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const s of sent) counts[s.status] = (counts[s.status] ?? 0) + 1;
  return counts;
}

/** The outcome label api.user.requests gives a status (the api-gateway's contract). */
export const OUTCOME: Readonly<Record<number, string>> = {
  200: 'found',
  400: 'invalid',
  404: 'not_found',
  502: 'upstream_error',
  504: 'timeout',
};
