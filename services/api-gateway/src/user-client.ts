// The gateway's client for user-service.
//
// It uses Node's global fetch (undici). Trace context is injected and the CLIENT span and the
// http.client.request.duration metric are produced by @opentelemetry/instrumentation-undici, which
// the shared telemetry package enables (instrumentation-http does not see fetch). fetch was chosen
// over http.request because it is the platform's standard client, pools keep-alive connections by
// default, and one abort signal bounds the whole exchange (connect, headers and body).
//
// The timeout aborts with our own Error named "TimeoutError" rather than AbortSignal.timeout()'s
// DOMException: instrumentation-undici records `error.code || error.name` as the client span's
// error.type, and a DOMException's numeric code (23) would make that attribute a meaningless number.
//
// Every way the call can end maps to one outcome (also the `outcome` attribute of the
// api.user.requests metric):
//   found           200 with a valid user document        -> 200
//   not_found       404                                   -> 404
//   upstream_error  5xx, unexpected status, invalid body,
//                   connection refused/reset, DNS failure -> 502
//   timeout         no complete answer within the budget  -> 504

import { isUser, type User } from '@nos/service-kit';
import { firstErrorCode, innermostMessage } from '@nos/fetch-helpers';

export type UpstreamResult =
  | { outcome: 'found'; user: User }
  | { outcome: 'not_found' }
  | { outcome: 'upstream_error'; detail: string; upstreamStatus?: number }
  | { outcome: 'timeout'; detail: string };

/** Larger answers are not a user document: do not buffer them. */
export const MAX_BODY_BYTES = 64 * 1024;

/** Maps a complete user-service answer to an outcome. Pure. */
export function interpretResponse(status: number, bodyText: string): UpstreamResult {
  if (status === 404) return { outcome: 'not_found' };
  if (status !== 200) {
    return {
      outcome: 'upstream_error',
      upstreamStatus: status,
      detail: `user-service answered HTTP ${status}`,
    };
  }
  let body: unknown;
  try {
    body = JSON.parse(bodyText);
  } catch {
    return {
      outcome: 'upstream_error',
      upstreamStatus: status,
      detail: 'user-service sent a body that is not JSON',
    };
  }
  if (!isUser(body)) {
    return {
      outcome: 'upstream_error',
      upstreamStatus: status,
      detail: 'user-service sent an invalid user document',
    };
  }
  // Only the documented fields go to the public response.
  return { outcome: 'found', user: { id: body.id, name: body.name, email: body.email } };
}

/** Maps a failed fetch (no complete answer) to an outcome. Pure. */
export function interpretFailure(
  error: unknown,
  baseUrl: string,
  timeoutMs: number,
): UpstreamResult {
  const name = (error as { name?: unknown } | undefined)?.name;
  if (name === 'TimeoutError') {
    return { outcome: 'timeout', detail: `user-service did not answer within ${timeoutMs} ms` };
  }
  return {
    outcome: 'upstream_error',
    detail: `user-service unreachable at ${baseUrl} (${firstErrorCode(error) ?? innermostMessage(error)})`,
  };
}

export class UserClient {
  readonly #baseUrl: string;
  readonly #timeoutMs: number;

  constructor(baseUrl: string, timeoutMs: number) {
    this.#baseUrl = baseUrl;
    this.#timeoutMs = timeoutMs;
  }

  async getUser(id: number): Promise<UpstreamResult> {
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(timeoutError(this.#timeoutMs)),
      this.#timeoutMs,
    );
    try {
      const response = await fetch(`${this.#baseUrl}/users/${id}`, {
        headers: { accept: 'application/json' },
        signal: controller.signal,
      });
      const body = await readBounded(response, MAX_BODY_BYTES);
      if (body === undefined) {
        return {
          outcome: 'upstream_error',
          upstreamStatus: response.status,
          detail: `user-service sent more than ${MAX_BODY_BYTES} bytes, more than a user document`,
        };
      }
      return interpretResponse(response.status, body);
    } catch (error) {
      return interpretFailure(error, this.#baseUrl, this.#timeoutMs);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * The body as text, or undefined (and the rest left unread) once it exceeds `limit` bytes: a
 * declared content-length is refused before reading, and a chunked answer, which declares none, is
 * counted as it streams in.
 */
async function readBounded(response: Response, limit: number): Promise<string | undefined> {
  if (Number(response.headers.get('content-length') ?? '0') > limit) {
    await response.body?.cancel();
    return undefined;
  }
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let received = 0;
  for await (const chunk of response.body) {
    received += chunk.byteLength;
    if (received > limit) {
      // Leaving the loop early cancels the stream (the connection is not reused).
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function timeoutError(ms: number): Error {
  const error = new Error(`no answer within ${ms} ms`);
  error.name = 'TimeoutError';
  return error;
}
