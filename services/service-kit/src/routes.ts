// The routes every service has besides its own: health, readiness, unknown paths, wrong methods.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { requestPath, sendJson, sendProblem, type Request } from './problem.ts';

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
