// One access-log record per request.

import type { ServerResponse } from 'node:http';
import { PROBE_PATHS, type Logger } from '@nos/telemetry';
import { requestPath, type Next, type Request } from './problem.ts';

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
