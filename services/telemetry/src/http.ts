// HTTP pieces both services share: RFC 9457 problem details, the W3C `traceresponse` header, the
// access log, health/readiness, 404 and error handlers, and malformed-request handling at the HTTP
// parser level. Typed against node:http so Express (whose Request/Response extend these) can use them
// directly.

import {
  STATUS_CODES,
  type IncomingMessage,
  type RequestListener,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import {
  context,
  isSpanContextValid,
  SpanStatusCode,
  trace,
  type Context,
} from '@opentelemetry/api';
import type { Logger } from 'pino';

type Request = IncomingMessage & { originalUrl?: string; route?: { path?: unknown } };
type Next = (error?: unknown) => void;

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

/**
 * `traceresponse: 00-<trace-id>-<span-id>-<trace-flags>` (W3C Trace Context Level 2): the trace this
 * request was recorded in and the server span's id, so a caller can go from a curl to the trace.
 * Must run first, before any response is started.
 */
export function traceResponse() {
  return (_req: IncomingMessage, res: ServerResponse, next: Next): void => {
    const context = trace.getActiveSpan()?.spanContext();
    if (context && isSpanContextValid(context)) {
      const flags = context.traceFlags.toString(16).padStart(2, '0');
      res.setHeader('traceresponse', `00-${context.traceId}-${context.spanId}-${flags}`);
    }
    res.setHeader('x-content-type-options', 'nosniff');
    next();
  };
}

export const PROBE_PATHS = new Set(['/healthz', '/readyz']);

/**
 * One access-log record per request, written when the response is finished (or the client went
 * away), inside the request's span: it carries the request's trace_id/span_id. Probes log at debug.
 */
export function accessLog(logger: Logger) {
  return (req: Request, res: ServerResponse, next: Next): void => {
    const start = process.hrtime.bigint();
    let done = false;
    const log = (aborted: boolean) => {
      if (done) return;
      done = true;
      const durationMs = Number(process.hrtime.bigint() - start) / 1e6;
      const path = requestPath(req);
      const record: Record<string, unknown> = {
        'http.request.method': req.method,
        'url.path': path,
        'http.response.status_code': res.statusCode,
        duration_ms: Math.round(durationMs * 100) / 100,
      };
      if (typeof req.route?.path === 'string') record['http.route'] = req.route.path;
      if (aborted) record.aborted = true;
      const level = PROBE_PATHS.has(path) ? 'debug' : res.statusCode >= 500 ? 'error' : 'info';
      logger[level](record, aborted ? 'request aborted by client' : 'request completed');
    };
    res.once('finish', () => log(false));
    res.once('close', () => log(!res.writableFinished));
    next();
  };
}

export type ReadinessState = 'starting' | 'ready' | 'stopping';

export class Readiness {
  state: ReadinessState = 'starting';
}

/** GET /healthz (liveness: the event loop answers) and GET /readyz (503 unless ready). */
export function healthRoutes(readiness: Readiness) {
  return {
    healthz: (_req: IncomingMessage, res: ServerResponse): void => {
      sendJson(res, 200, { status: 'ok' });
    },
    readyz: (req: IncomingMessage, res: ServerResponse): void => {
      if (readiness.state === 'ready') {
        sendJson(res, 200, { status: 'ready' });
      } else {
        res.setHeader('retry-after', '1');
        sendProblem(req, res, 503, `not ready: ${readiness.state}`);
      }
    },
  };
}

/** Unknown routes. */
export function notFound() {
  return (req: Request, res: ServerResponse): void => {
    sendProblem(req, res, 404, `no route for ${req.method ?? 'GET'} ${requestPath(req)}`);
  };
}

/** 405 with the allowed methods, for a known path requested with another method. */
export function methodNotAllowed(allowed: readonly string[]) {
  return (req: Request, res: ServerResponse): void => {
    res.setHeader('allow', allowed.join(', '));
    sendProblem(
      req,
      res,
      405,
      `${req.method ?? '?'} is not allowed here; use ${allowed.join(', ')}`,
    );
  };
}

interface HttpError {
  status?: unknown;
  statusCode?: unknown;
  expose?: unknown;
  message?: unknown;
  type?: unknown;
}

/** The HTTP status an error asks for (body-parser, router, http-errors); 500 otherwise. */
export function errorStatus(error: unknown): number {
  const candidate = (error as HttpError | undefined)?.status ?? (error as HttpError)?.statusCode;
  return typeof candidate === 'number' && candidate >= 400 && candidate <= 599 ? candidate : 500;
}

/**
 * Last handler: client errors (malformed JSON, bad percent-encoding, too large) become their 4xx
 * problem document; anything else is a 500, recorded on the server span as an exception and logged
 * at error level with the stack.
 */
export function errorHandler(logger: Logger) {
  return (error: unknown, req: Request, res: ServerResponse, _next: Next): void => {
    const status = errorStatus(error);
    if (status >= 500) {
      const span = trace.getActiveSpan();
      if (error instanceof Error) span?.recordException(error);
      span?.setStatus({ code: SpanStatusCode.ERROR, message: String((error as Error)?.message) });
      logger.error({ err: error }, 'request failed');
    }
    if (res.headersSent) {
      // Too late for a problem document: end the connection so the client sees the failure.
      req.socket.destroy();
      return;
    }
    const exposed =
      (error as HttpError)?.expose === true && typeof (error as HttpError).message === 'string';
    const detail =
      status >= 500
        ? 'the server could not complete the request; see its logs for this traceId'
        : exposed
          ? String((error as HttpError).message)
          : (STATUS_CODES[status] ?? 'bad request');
    sendProblem(req, res, status, detail);
  };
}

interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  /** The request's context (its server span), to answer it from outside its handlers. */
  context: Context;
}

/** The latest request/response of each connection, to tell whose bytes a parser error is in. */
const latestExchange = new WeakMap<Socket, Exchange>();
/** Connections whose parser error is already being handled: later bytes on them are ignored. */
const closing = new WeakSet<Socket>();

/** Call for every request (server 'request' event), so `handleClientError` knows the connection. */
export function trackExchange(req: IncomingMessage, res: ServerResponse): void {
  latestExchange.set(req.socket, { req, res, context: context.active() });
}

/** Runs `then` once `res` has been handed to the connection (right away if it already was). */
function afterResponse(res: ServerResponse, then: () => void): void {
  if (res.writableFinished) {
    setImmediate(then);
    return;
  }
  // setImmediate: after Node's own 'finish' handling, which ends a connection the client asked to close.
  res.once('finish', () => setImmediate(then));
}

function parserErrorStatus(error: NodeJS.ErrnoException): number {
  if (error.code === 'HPE_HEADER_OVERFLOW') return 431;
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return 408;
  return 400;
}

/**
 * Requests Node's HTTP parser rejects never reach Express (no span, no route): answer them with a
 * problem document too (431 for oversized headers/URL, 408 for slow clients, 400 otherwise) and
 * close the connection. Every request the parser did accept first gets its own answer, in order
 * (RFC 9112 section 9.3.2), whatever follows it on the connection:
 * - the bad bytes follow a request still being answered: that answer is sent first; then the
 *   bytes get their 400, unless that request asked to close the connection (RFC 9112 section 9.6:
 *   nothing after it is processed);
 * - the bad bytes are a request's own body: a request already answered (a 405 sent before its
 *   chunked body turns out malformed) keeps that answer; one not yet answered gets the 400 as its
 *   response, so its span, access log and counters record what the client received.
 * Never throws.
 */
export function handleClientError(logger: Logger) {
  return (error: NodeJS.ErrnoException, socket: Socket): void => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    if (closing.has(socket)) return;
    const status = parserErrorStatus(error);
    const detail = `malformed HTTP request rejected by the parser (${error.code ?? 'unknown'})`;
    const latest = latestExchange.get(socket);
    if (!latest || (latest.req.complete && latest.res.writableFinished)) {
      logger.debug({ code: error.code }, 'malformed HTTP request rejected');
      endWithProblem(socket, status, detail);
      return;
    }
    closing.add(socket);
    const { req, res } = latest;
    if (!req.complete) {
      if (res.headersSent) {
        logger.debug({ code: error.code }, 'malformed HTTP request after its response: closed');
        afterResponse(res, () => socket.destroySoon());
      } else {
        logger.debug({ code: error.code }, 'malformed HTTP request body rejected');
        res.shouldKeepAlive = false;
        context.with(latest.context, () => sendProblem(req, res, status, detail));
      }
      return;
    }
    afterResponse(res, () => {
      if (!socket.writable || socket.writableEnded) return;
      if (!res.shouldKeepAlive) {
        socket.destroySoon();
        return;
      }
      logger.debug({ code: error.code }, 'malformed HTTP request after a pending one rejected');
      endWithProblem(socket, status, detail);
    });
  };
}

/** Writes a whole problem response on a raw connection and closes it. */
function endWithProblem(socket: Socket, status: number, detail: string, headers = ''): void {
  const title = STATUS_CODES[status] ?? 'Error';
  const body = JSON.stringify({ type: 'about:blank', title, status, detail });
  socket.end(
    `HTTP/1.1 ${status} ${title}\r\n${headers}` +
      `content-type: ${PROBLEM_CONTENT_TYPE}; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\n` +
      'connection: close\r\n\r\n' +
      body,
  );
}

/**
 * The server's 'connect' listener. CONNECT asks a proxy for a tunnel; without a listener Node
 * closes the connection without a word. Answer 405: no method is allowed on an authority here
 * (an empty Allow, RFC 9110 section 10.2.1).
 */
export function rejectConnect(req: IncomingMessage, socket: Socket): void {
  endWithProblem(
    socket,
    405,
    `CONNECT ${String(req.url).slice(0, 100)}: this server is not a proxy`,
    'allow: \r\n',
  );
}

/** Answers with a problem document and closes the connection (the rest of the request is unread). */
function rejectAndClose(req: IncomingMessage, res: ServerResponse, status: number, detail: string) {
  res.shouldKeepAlive = false;
  sendProblem(req, res, status, detail);
}

/**
 * HTTP/1.1 requires a Host header (RFC 9112 section 3.2). Node checks it before any listener and
 * answers a bare 400; with the server option `requireHostHeader: false` this wrapper gives the same
 * 400 as a problem document.
 */
export function requireHostHeader(app: RequestListener): RequestListener {
  return (req, res) => {
    if (req.httpVersion === '1.1' && req.headers.host === undefined) {
      rejectAndClose(req, res, 400, 'an HTTP/1.1 request needs a Host header');
      return;
    }
    void app(req, res);
  };
}

/**
 * The server's 'checkExpectation' listener: an `Expect` other than 100-continue (which Node
 * answers itself) gets 417 as a problem document instead of Node's empty one.
 */
export function rejectExpectation(req: IncomingMessage, res: ServerResponse): void {
  rejectAndClose(req, res, 417, `unsupported Expect: ${String(req.headers.expect).slice(0, 100)}`);
}
