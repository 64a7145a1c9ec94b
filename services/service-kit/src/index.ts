// @nos/service-kit (node-observability-stack's service kit): what an HTTP service needs around its
// routes, above the telemetry preload: configuration readers, RFC 9457 problem documents, request
// middleware, connection hardening and the server lifecycle.

export {
  ConfigError,
  InvalidValue,
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
export { LOG_LEVELS } from '@nos/telemetry';
export { accessLog } from './access-log.ts';
export { errorHandler, errorStatus } from './error-handler.ts';
export {
  PROBLEM_CONTENT_TYPE,
  problemBody,
  requestPath,
  sendJson,
  sendProblem,
  type Problem,
} from './problem.ts';
export {
  Readiness,
  healthRoutes,
  methodNotAllowed,
  notFound,
  type ReadinessState,
} from './routes.ts';
export { serve, type RunningServer, type ServeOptions } from './serve.ts';
export { traceResponse } from './trace-response.ts';
export { isUser, type User } from './user-document.ts';
