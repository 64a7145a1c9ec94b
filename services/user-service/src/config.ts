// user-service configuration, from the environment (validated at start; see README for the table).

import { type Env, int, logLevel, port, readConfig } from '@nos/service-kit';

export interface UserServiceConfig {
  port: number;
  logLevel: ReturnType<typeof logLevel>;
  shutdownTimeoutMs: number;
  /** Time between SIGTERM (readiness failing) and closing the listener (ms). */
  shutdownDelayMs: number;
  /** Simulated time of one database query before injected latency (ms). */
  dbLatencyMs: number;
}

export function loadConfig(env: Env): UserServiceConfig {
  const c = readConfig(env, {
    PORT: port(8081),
    LOG_LEVEL: logLevel,
    SHUTDOWN_TIMEOUT_MS: int({ default: 10_000, min: 0, max: 300_000 }),
    SHUTDOWN_DELAY_MS: int({ default: 0, min: 0, max: 60_000 }),
    DB_LATENCY_MS: int({ default: 5, min: 0, max: 10_000 }),
  });
  return {
    port: c.PORT,
    logLevel: c.LOG_LEVEL,
    shutdownTimeoutMs: c.SHUTDOWN_TIMEOUT_MS,
    shutdownDelayMs: c.SHUTDOWN_DELAY_MS,
    dbLatencyMs: c.DB_LATENCY_MS,
  };
}
