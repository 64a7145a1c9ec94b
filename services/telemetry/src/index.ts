// @nos/telemetry (node-observability-stack's telemetry preload): the SDK starts from
// `node --import @nos/telemetry/register`, not from here. This entry gives the application what it
// uses of the preload at run time: the logger, the SDK's state, the stderr fallback, the probe paths.

export type { Env } from './env.ts';
export { writeFallback, type FallbackLevel } from './fallback-log.ts';
export { createLogger, LOG_LEVELS, type AppLogger, type Logger, type LogLevel } from './logger.ts';
export { PROBE_PATHS } from './probe-paths.ts';
export { getTelemetryState, type TelemetryState } from './state.ts';
