// RFC 9457 problem documents and JSON replies, typed against node:http so Express (whose Request and
// Response extend these) uses them directly.

import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { isSpanContextValid, trace } from '@opentelemetry/api';

export type Request = IncomingMessage & { originalUrl?: string; route?: { path?: unknown } };
export type Next = (error?: unknown) => void;

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Request path for logs and problem documents: no query string, bounded length. */
export function requestPath(req: Request): string {
  const url = req.originalUrl ?? req.url ?? '';
  const path = url.split('?')[0] ?? '';
  return path.length > 200 ? `${path.slice(0, 200)}...` : path;
}

function activeTraceId(): string | undefined {
  const context = trace.getActiveSpan()?.spanContext();
  return context && isSpanContextValid(context) ? context.traceId : undefined;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  traceId?: string;
  [extension: string]: unknown;
}

/**
 * An RFC 9457 problem document. `type` stays "about:blank" (the status code says it all, `title` is
 * the status phrase); `detail` explains this occurrence; `instance` is the request path; the
 * extension member `traceId` repeats the trace id of the `traceresponse` header.
 */
export function problemBody(
  req: Request,
  status: number,
  detail: string,
  extensions: Record<string, unknown> = {},
): Problem {
  const body: Problem = {
    type: 'about:blank',
    title: STATUS_CODES[status] ?? 'Error',
    status,
    detail,
    instance: requestPath(req),
    ...extensions,
  };
  const traceId = activeTraceId();
  if (traceId) body.traceId = traceId;
  return body;
}

export function sendProblem(
  req: Request,
  res: ServerResponse,
  status: number,
  detail: string,
  extensions: Record<string, unknown> = {},
): void {
  // Already answered: by handleClientError, when the request's body failed to parse meanwhile.
  if (res.headersSent) return;
  const body = JSON.stringify(problemBody(req, status, detail, extensions));
  res.statusCode = status;
  res.setHeader('content-type', `${PROBLEM_CONTENT_TYPE}; charset=utf-8`);
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(body);
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  if (res.headersSent) return;
  const body = JSON.stringify(value);
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(body);
}
