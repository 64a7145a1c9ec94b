// user-service HTTP API (internal; the api-gateway is its only client).
//   GET    /users/:id      200 user JSON | 400 invalid id | 404 unknown user | 500 database failure
//   GET    /admin/faults   current fault settings
//   PUT    /admin/faults   {"errorRate": 0..1, "latencyMs": 0..60000}; 400 invalid, 415 not JSON
//   DELETE /admin/faults   reset (no faults)
//   GET    /healthz, /readyz
// Errors are RFC 9457 problem documents (application/problem+json).

import express, { type NextFunction, type Request, type Response } from 'express';
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
import { parseFaultSettings, type Faults } from './faults.ts';
import type { UserRepository } from './user-repository.ts';
import { invalidUserIdDetail, parseUserId } from './user-id.ts';

export interface AppDeps {
  logger: Logger;
  users: UserRepository;
  faults: Faults;
  readiness: Readiness;
}

export function createApp({ logger, users, faults, readiness }: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.use(traceResponse());
  app.use(accessLog(logger));

  const health = healthRoutes(readiness);
  app.get('/healthz', health.healthz);
  app.get('/readyz', health.readyz);

  app
    .route('/users/:id')
    .get(async (req: Request<{ id: string }>, res: Response, next: NextFunction) => {
      const id = parseUserId(req.params.id);
      if (id === undefined) {
        sendProblem(req, res, 400, invalidUserIdDetail);
        return;
      }
      try {
        const user = await users.findById(id);
        if (!user) {
          sendProblem(req, res, 404, `user ${id} does not exist`);
          return;
        }
        sendJson(res, 200, user);
      } catch (error) {
        // errorHandler answers 500, records the exception on the server span and logs it.
        next(error);
      }
    })
    .all(methodNotAllowed(['GET']));

  const json = express.json({ limit: '1kb', strict: true, type: 'application/json' });
  app
    .route('/admin/faults')
    .get((_req, res) => sendJson(res, 200, faults.settings))
    .put(
      (req, res, next) => {
        if (!req.is('application/json')) {
          sendProblem(req, res, 415, 'send the fault settings as application/json');
          return;
        }
        next();
      },
      json,
      (req, res) => {
        const parsed = parseFaultSettings(req.body);
        if (!parsed.ok) {
          sendProblem(req, res, 400, parsed.errors.join('; '), { errors: parsed.errors });
          return;
        }
        faults.set(parsed.value);
        logger.warn({ faults: parsed.value }, 'fault injection changed');
        sendJson(res, 200, faults.settings);
      },
    )
    .delete((_req, res) => {
      faults.reset();
      logger.warn({ faults: faults.settings }, 'fault injection reset');
      sendJson(res, 200, faults.settings);
    })
    .all(methodNotAllowed(['GET', 'PUT', 'DELETE']));

  app.use(notFound());
  app.use(errorHandler(logger));
  return app;
}
