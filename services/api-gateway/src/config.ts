// api-gateway configuration, from the environment (validated at start; see README for the table).

import { type Env, httpUrl, int, logLevel, port, readConfig } from '@nos/service-kit';

export interface GatewayConfig {
  port: number;
  logLevel: ReturnType<typeof logLevel>;
  /** Base URL of user-service, without trailing slash. */
  userServiceUrl: string;
  /** Budget for one call to user-service (connect + response + body), in ms. */
  userServiceTimeoutMs: number;
  shutdownTimeoutMs: number;
  /** Time between SIGTERM (readiness failing) and closing the listener (ms). */
  shutdownDelayMs: number;
}

export function loadConfig(env: Env): GatewayConfig {
  const c = readConfig(env, {
    PORT: port(8080),
    LOG_LEVEL: logLevel,
    USER_SERVICE_URL: httpUrl('http://localhost:8081'),
    USER_SERVICE_TIMEOUT_MS: int({ default: 2000, min: 1, max: 60_000 }),
    SHUTDOWN_TIMEOUT_MS: int({ default: 10_000, min: 0, max: 300_000 }),
    SHUTDOWN_DELAY_MS: int({ default: 0, min: 0, max: 60_000 }),
  });
  return {
    port: c.PORT,
    logLevel: c.LOG_LEVEL,
    userServiceUrl: c.USER_SERVICE_URL,
    userServiceTimeoutMs: c.USER_SERVICE_TIMEOUT_MS,
    shutdownTimeoutMs: c.SHUTDOWN_TIMEOUT_MS,
    shutdownDelayMs: c.SHUTDOWN_DELAY_MS,
  };
}
