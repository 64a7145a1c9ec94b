// user-service entry point. Start with the telemetry preload:
//   node --import @nos/telemetry/register dist/server.js      (npm start, Dockerfile CMD)

import { createLogger, loadConfigOrExit, Readiness, serve } from '@nos/telemetry';
import { createApp } from './app.ts';
import { loadConfig } from './config.ts';
import { UserRepository } from './db.ts';
import { Faults } from './faults.ts';
import { seedUsers } from './users.ts';

const config = loadConfigOrExit('user-service', () => loadConfig(process.env));
const { logger, close: closeLogger } = createLogger({ level: config.logLevel });
const readiness = new Readiness();
const faults = new Faults();
const users = new UserRepository(seedUsers(), faults, config.dbLatencyMs);

await serve({
  app: createApp({ logger, users, faults, readiness }),
  port: config.port,
  logger,
  closeLogger,
  readiness,
  shutdownTimeoutMs: config.shutdownTimeoutMs,
  shutdownDelayMs: config.shutdownDelayMs,
});
