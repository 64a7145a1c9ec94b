// api-gateway entry point. Start with the telemetry preload:
//   node --import @nos/telemetry/register dist/server.js      (npm start, Dockerfile CMD)

import { loadConfigOrExit, Readiness, serve } from '@nos/service-kit';
import { createLogger } from '@nos/telemetry';
import { createApp } from './app.ts';
import { loadConfig } from './config.ts';
import { UserClient } from './user-client.ts';

const config = loadConfigOrExit('api-gateway', () => loadConfig(process.env));
const { logger, close: closeLogger } = createLogger({ level: config.logLevel });
const readiness = new Readiness();
const users = new UserClient(config.userServiceUrl, config.userServiceTimeoutMs);

await serve({
  app: createApp({ logger, users, readiness }),
  port: config.port,
  logger,
  closeLogger,
  readiness,
  shutdownTimeoutMs: config.shutdownTimeoutMs,
  shutdownDelayMs: config.shutdownDelayMs,
});
