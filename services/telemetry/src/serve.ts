// Runs an HTTP app with the lifecycle both services share.
//
// Start: listen on PORT; readiness becomes "ready"; one log line with the start-to-ready time.
// SIGTERM / SIGINT (graceful shutdown, what Kubernetes and `docker stop` send to PID 1):
//   1. readiness answers 503, so load balancers stop sending traffic; with SHUTDOWN_DELAY_MS > 0 the
//      service keeps serving that long first (Kubernetes removes a terminating pod from its
//      endpoints asynchronously, so new connections can still arrive for a moment);
//   2. the listener closes (no new connections), idle keep-alive connections are closed, and
//      in-flight responses are sent with `connection: close`;
//   3. in-flight requests finish, bounded by SHUTDOWN_TIMEOUT_MS (then remaining connections are
//      cut and the exit code is 1);
//   4. telemetry is flushed: the SDK exports pending spans and a last metrics collection, the log
//      transport exports pending log records (each bounded, so a dead collector cannot hang the exit);
//   5. exit 0.
// A second signal during shutdown exits at once (code 130), except the same signal within a second
// of the first: that is one request delivered twice (Ctrl-C in a terminal signals the whole process
// group, npm included, and `npm start` forwards SIGINT and SIGTERM to the service).
// An uncaught exception or unhandled rejection is logged at fatal level and goes through the same
// shutdown with exit code 1.

import { createServer, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import {
  handleClientError,
  Readiness,
  rejectConnect,
  rejectExpectation,
  requireHostHeader,
  trackExchange,
} from './http.ts';
import { getTelemetryState } from './state.ts';

export interface ServeOptions {
  app: RequestListener;
  port: number;
  host?: string;
  logger: Logger;
  /** Closes the logger's transport (flushes the OTLP log export). */
  closeLogger: (timeoutMs?: number) => Promise<void>;
  readiness: Readiness;
  /** After the signal: keep serving this long with readiness failing, then close the listener. */
  shutdownDelayMs?: number;
  shutdownTimeoutMs: number;
  /** Upper bound for flushing telemetry at exit. */
  flushTimeoutMs?: number;
  /** Called at exit instead of process.exit (tests). */
  exit?: (code: number) => void;
}

export interface RunningServer {
  server: Server;
  shutdown(reason: string, exitCode?: number): Promise<void>;
}

/** Resolves true when `promise` settles in time, false on timeout or rejection (reported). Never rejects. */
function withTimeout(
  promise: Promise<unknown>,
  ms: number,
  onError: (error: unknown) => void = () => {},
): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const settled = promise.then(
    () => true,
    (error: unknown) => {
      onError(error);
      return false;
    },
  );
  return Promise.race([settled, timeout]).finally(() => clearTimeout(timer));
}

export function serve(options: ServeOptions): Promise<RunningServer> {
  const { logger, readiness } = options;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const flushTimeoutMs = options.flushTimeoutMs ?? 5000;
  // Node's own answers to a missing Host and to an unknown Expect are bare, and to CONNECT silence;
  // these give problem documents (http.ts).
  const server = createServer({ requireHostHeader: false }, requireHostHeader(options.app));
  server.on('checkExpectation', rejectExpectation);
  server.on('connect', rejectConnect);
  const inFlight = new Set<ServerResponse>();

  server.on('request', (req, res: ServerResponse) => {
    trackExchange(req, res);
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
    if (readiness.state === 'stopping') res.shouldKeepAlive = false;
  });
  server.on('clientError', handleClientError(logger));

  let shuttingDown: Promise<void> | undefined;
  const shutdown = (reason: string, exitCode = 0): Promise<void> => {
    if (shuttingDown) return shuttingDown;
    shuttingDown = (async () => {
      readiness.state = 'stopping';
      const delayMs = options.shutdownDelayMs ?? 0;
      if (delayMs > 0) {
        logger.info(
          { reason, delay_ms: delayMs },
          'shutting down: readiness failing, still serving',
        );
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
      logger.info(
        { reason, in_flight: inFlight.size },
        'shutting down: draining in-flight requests',
      );
      for (const res of inFlight) if (!res.headersSent) res.shouldKeepAlive = false;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // Keep-alive connections become idle as their last response completes.
      const sweeper = setInterval(() => server.closeIdleConnections(), 50);
      const drained = await withTimeout(closed, options.shutdownTimeoutMs);
      clearInterval(sweeper);
      if (!drained) {
        logger.warn(
          { in_flight: inFlight.size, timeout_ms: options.shutdownTimeoutMs },
          'shutdown timeout: closing remaining connections',
        );
        server.closeAllConnections();
        exitCode = exitCode || 1;
      }
      logger.info({ exit_code: exitCode }, 'stopped; flushing telemetry');
      const telemetry = getTelemetryState();
      // The SDK's shutdown rejects when the last export fails (collector down): that is reported,
      // and does not change the exit code: every request was answered.
      await Promise.all([
        withTimeout(options.closeLogger(flushTimeoutMs), flushTimeoutMs + 100),
        telemetry
          ? withTimeout(telemetry.shutdown(), flushTimeoutMs, (error) =>
              telemetry.reportProblem(
                'error',
                `telemetry flush at shutdown failed: ${String(error)}`,
              ),
            )
          : Promise.resolve(true),
      ]);
      exit(exitCode);
    })();
    return shuttingDown;
  };

  let firstSignal: { signal: NodeJS.Signals; at: number } | undefined;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      const now = Date.now();
      if (firstSignal?.signal === signal && now - firstSignal.at < 1000) return;
      firstSignal ??= { signal, at: now };
      if (shuttingDown) {
        process.stderr.write(`${signal} received again during shutdown: exiting now\n`);
        exit(130);
        return;
      }
      void shutdown(signal);
    });
  }
  // A crash is logged (to stderr once the logger is closed) and goes through the same shutdown.
  const fatal = (error: unknown, msg: string) => {
    if (shuttingDown) {
      process.stderr.write(
        `${JSON.stringify({ level: 60, time: Date.now(), msg, err: String(error) })}\n`,
      );
      return;
    }
    logger.fatal({ err: error }, msg);
    void shutdown(msg, 1);
  };
  process.on('uncaughtException', (error) => fatal(error, 'uncaught exception'));
  process.on('unhandledRejection', (reason) => fatal(reason, 'unhandled promise rejection'));

  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      logger.fatal({ err: error, port: options.port }, 'cannot listen');
      void shutdown('cannot listen', 1).then(() => reject(error));
    };
    server.once('error', onError);
    server.listen(options.port, options.host, () => {
      server.off('error', onError);
      readiness.state = 'ready';
      const address = server.address();
      logger.info(
        {
          port: typeof address === 'object' && address ? address.port : options.port,
          startup_ms: Math.round(process.uptime() * 1000),
        },
        'ready',
      );
      resolve({ server, shutdown });
    });
  });
}
