// user-service entry point. Start with the telemetry preload:
//   node --import @nos/telemetry/register dist/server.js      (npm start, Dockerfile CMD)

import { loadConfigOrExit, Readiness, serve } from '@nos/service-kit';
import { createLogger } from '@nos/telemetry';
import { createApp } from './app.ts';
import { loadConfig } from './config.ts';
import { Faults } from './faults.ts';
import { seedUsers } from './simulated-database.ts';
import { UserRepository } from './user-repository.ts';

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
