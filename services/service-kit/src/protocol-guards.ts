// Requests Node answers itself, bare or not at all: a missing Host, an unknown Expect, CONNECT.
// These give the same answers as problem documents.

import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { sendProblem } from './problem.ts';
import { endWithProblem } from './raw-problem.ts';

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
