// Variant C of the benchmark: the floor. A minimal Express 5 pair with the services' route shape and
// simulated latency, and nothing else: no telemetry, no logger, no problem documents.
//   node scripts/bench/plain-pair.ts user-service   GET /users/:id: waits DB_LATENCY_MS +-50 %, answers
//                                                   the same seeded user document as user-service
//   node scripts/bench/plain-pair.ts api-gateway    GET /user/:id: fetch()es user-service, checks and
//                                                   forwards the document
// Both answer GET /readyz. PORT, USER_SERVICE_URL and DB_LATENCY_MS as for the real services.

import { setTimeout as sleep } from 'node:timers/promises';
import express from 'express';
import { seedUsers } from '@nos/user-service/simulated-database';

const role = process.argv[2];
const port = Number(process.env.PORT ?? 0);
const app = express();
app.disable('x-powered-by');
app.disable('etag');
app.get('/readyz', (_req, res) => {
  res.json({ status: 'ready' });
});

const validId = (raw: string): number | undefined =>
  /^[1-9]\d{0,9}$/.test(raw) && Number(raw) <= 2_147_483_647 ? Number(raw) : undefined;

if (role === 'user-service') {
  const users = seedUsers();
  const latencyMs = Number(process.env.DB_LATENCY_MS ?? 5);
  app.get('/users/:id', async (req, res) => {
    const id = validId(req.params.id);
    if (id === undefined) {
      res.status(400).json({ status: 400 });
      return;
    }
    await sleep(latencyMs * (0.5 + Math.random()));
    const user = users.get(id);
    if (user) res.json(user);
    else res.status(404).json({ status: 404 });
  });
} else if (role === 'api-gateway') {
  const upstream = process.env.USER_SERVICE_URL ?? 'http://localhost:8081';
  app.get('/user/:id', async (req, res) => {
    const id = validId(req.params.id);
    if (id === undefined) {
      res.status(400).json({ status: 400 });
      return;
    }
    // The same timeout mechanism as the real gateway's client (AbortSignal.timeout is slower).
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 2000);
    try {
      const response = await fetch(`${upstream}/users/${id}`, {
        headers: { accept: 'application/json' },
        signal: controller.signal,
      });
      const body = (await response.json()) as { id?: unknown; name?: unknown; email?: unknown };
      if (response.status === 200 && typeof body.id === 'number') {
        res.json({ id: body.id, name: body.name, email: body.email });
      } else {
        res.status(response.status === 404 ? 404 : 502).json({ status: response.status });
      }
    } catch {
      res.status(502).json({ status: 502 });
    } finally {
      clearTimeout(timer);
    }
  });
} else {
  throw new Error('usage: plain-pair.ts user-service|api-gateway');
}

const server = app.listen(port);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
