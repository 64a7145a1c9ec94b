// The last middleware of a service: every error a handler passes on becomes a problem document.

import { STATUS_CODES, type ServerResponse } from 'node:http';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import type { Logger } from '@nos/telemetry';
import { sendProblem, type Next, type Request } from './problem.ts';

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
