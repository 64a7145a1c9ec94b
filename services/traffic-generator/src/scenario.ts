// What to request, and when the incident is on. Pure.

export type RequestKind = 'valid' | 'unknown' | 'invalid';

export interface PlannedRequest {
  kind: RequestKind;
  /** Path on the api-gateway. */
  path: string;
}

/** user-service seeds ids 1..500; 123 is the walkthrough's user. */
export const MAX_EXISTING_ID = 500;

const INVALID_IDS = ['abc', '0', '-7', '1.5', '12abc', '99999999999', '%20'];

/** The mix: 70 % existing users (a third of them 123), 15 % unknown (404), 15 % invalid (400). */
export function pickRequest(random: () => number): PlannedRequest {
  const r = random();
  if (r < 0.7) {
    const id = random() < 1 / 3 ? 123 : 1 + Math.floor(random() * MAX_EXISTING_ID);
    return { kind: 'valid', path: `/user/${id}` };
  }
  if (r < 0.85) {
    const id = random() < 0.5 ? 999 : MAX_EXISTING_ID + 1 + Math.floor(random() * 100_000);
    return { kind: 'unknown', path: `/user/${id}` };
  }
  const bad = INVALID_IDS[Math.floor(random() * INVALID_IDS.length)] ?? 'abc';
  return { kind: 'invalid', path: `/user/${bad}` };
}

export type Phase = 'baseline' | 'incident' | 'recovery';

/** The incident scenario in thirds: baseline, faults on, faults off. */
export function incidentPhase(elapsedMs: number, durationMs: number): Phase {
  if (elapsedMs < durationMs / 3) return 'baseline';
  if (elapsedMs < (2 * durationMs) / 3) return 'incident';
  return 'recovery';
}

/** How many requests should have been sent after `elapsedMs` at `rate` per second. */
export function dueRequests(elapsedMs: number, rate: number): number {
  return Math.floor((elapsedMs * rate) / 1000);
}
