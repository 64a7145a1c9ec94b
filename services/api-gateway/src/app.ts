// api-gateway HTTP API (public).
//   GET /user/:id   200 user JSON | 400 invalid id | 404 unknown user
//                   | 502 user-service failed or unreachable | 504 user-service too slow
//   GET /healthz    liveness
//   GET /readyz     readiness (503 while starting or shutting down)
// Errors, including unknown routes (404) and wrong methods (405), are RFC 9457 problem documents
// (application/problem+json). Every traced response carries `traceresponse`.

import express, { type Request, type Response } from 'express';
import { metrics } from '@opentelemetry/api';
import {
  accessLog,
  errorHandler,
  healthRoutes,
  methodNotAllowed,
  notFound,
  sendJson,
  sendProblem,
  traceResponse,
  type Readiness,
} from '@nos/service-kit';
import type { Logger } from '@nos/telemetry';
import type { UpstreamResult, UserClient } from './user-client.ts';
import { invalidUserIdDetail, parseUserId } from './user-id.ts';

export type Outcome = UpstreamResult['outcome'] | 'invalid';

export interface AppDeps {
  logger: Logger;
  users: Pick<UserClient, 'getUser'>;
  readiness: Readiness;
}

export function createApp({ logger, users, readiness }: AppDeps): express.Express {
  // Business metric: lands in Prometheus as api_user_requests_total{outcome="..."}.
  const requests = metrics.getMeter('@nos/api-gateway').createCounter('api.user.requests', {
    description:
      'Requests to GET /user/:id by outcome (found, not_found, invalid, upstream_error, timeout).',
    unit: '{request}',
  });
  const count = (outcome: Outcome) => requests.add(1, { outcome });

  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.use(traceResponse());
  app.use(accessLog(logger));

  const health = healthRoutes(readiness);
  app.get('/healthz', health.healthz);
  app.get('/readyz', health.readyz);

  app
    .route('/user/:id')
    .get(async (req: Request<{ id: string }>, res: Response) => {
      const id = parseUserId(req.params.id);
      if (id === undefined) {
        count('invalid');
        sendProblem(req, res, 400, invalidUserIdDetail);
        return;
      }
      const result = await users.getUser(id);
      count(result.outcome);
      switch (result.outcome) {
        case 'found':
          sendJson(res, 200, result.user);
          return;
        case 'not_found':
          sendProblem(req, res, 404, `user ${id} does not exist`);
          return;
        case 'timeout':
          logger.error({ outcome: result.outcome, 'user.id': id }, result.detail);
          sendProblem(req, res, 504, result.detail);
          return;
        case 'upstream_error':
          logger.error(
            { outcome: result.outcome, 'user.id': id, upstream_status: result.upstreamStatus },
            result.detail,
          );
          sendProblem(req, res, 502, result.detail);
          return;
      }
    })
    .all(methodNotAllowed(['GET']));

  app.use(notFound());
  app.use(errorHandler(logger));
  return app;
}
