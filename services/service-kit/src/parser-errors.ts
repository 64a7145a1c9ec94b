// Malformed requests at the HTTP parser level: they never reach Express (no span, no route), yet the
// client gets a problem document, and every request the parser did accept keeps its own answer.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { context, type Context } from '@opentelemetry/api';
import type { Logger } from '@nos/telemetry';
import { sendProblem } from './problem.ts';
import { endWithProblem } from './raw-problem.ts';

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
 * The server's 'clientError' listener: 431 for oversized headers/URL, 408 for slow clients, 400
 * otherwise, and the connection closes. Every request the parser did accept first gets its own
 * answer, in order (RFC 9112 section 9.3.2), whatever follows it on the connection:
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
