// @nos/telemetry: what both services share. The SDK itself starts from the preload
// (`node --import @nos/telemetry/register`), not from here.

export {
  ConfigError,
  InvalidValue,
  LOG_LEVELS,
  httpUrl,
  int,
  loadConfigOrExit,
  logLevel,
  oneOf,
  parseStrictInt,
  port,
  readConfig,
  type ConfigOf,
  type Env,
  type LogLevel,
  type Reader,
} from './config.ts';
export {
  PROBLEM_CONTENT_TYPE,
  Readiness,
  accessLog,
  errorHandler,
  errorStatus,
  healthRoutes,
  methodNotAllowed,
  notFound,
  problemBody,
  requestPath,
  sendJson,
  sendProblem,
  traceResponse,
  type Problem,
} from './http.ts';
export { invalidUserIdDetail, MAX_USER_ID, parseUserId } from './user-id.ts';
export { createLogger, type AppLogger, type Logger } from './logger.ts';
export { serve, type RunningServer, type ServeOptions } from './serve.ts';
export { getTelemetryState, type TelemetryState } from './state.ts';
