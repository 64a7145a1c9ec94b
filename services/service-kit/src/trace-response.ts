// The first middleware of a service: tells the caller which trace its request was recorded in.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { isSpanContextValid, trace } from '@opentelemetry/api';
import type { Next } from './problem.ts';

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
