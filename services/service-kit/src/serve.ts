// Runs an HTTP app with the lifecycle both services share.
//
// Start: listen on PORT; readiness becomes "ready"; one log line with the start-to-ready time.
// SIGTERM / SIGINT (graceful shutdown, what Kubernetes and `docker stop` send to PID 1):
//   1. readiness answers 503, so load balancers stop sending traffic; with SHUTDOWN_DELAY_MS > 0 the
//      service keeps serving that long first (Kubernetes removes a terminating pod from its
//      endpoints asynchronously, so new connections can still arrive for a moment);
//   2. the listener closes (no new connections), idle keep-alive connections are closed, and
//      in-flight responses are sent with `connection: close` (drain.ts);
//   3. in-flight requests finish, bounded by SHUTDOWN_TIMEOUT_MS (then remaining connections are
//      cut and the exit code is 1);
//   4. telemetry is flushed (flush.ts);
//   5. exit 0.
// A second signal during shutdown exits at once (code 130), and an uncaught exception or unhandled
// rejection is logged at fatal level and goes through the same shutdown with exit code 1
// (process-events.ts).

import type { RequestListener, Server } from 'node:http';
import type { Logger } from '@nos/telemetry';
import { drain } from './drain.ts';
import { flushTelemetry } from './flush.ts';
import { createHardenedServer } from './hardened-server.ts';
import { InFlight } from './in-flight.ts';
import { onCrash, onStopSignals } from './process-events.ts';
import type { Readiness } from './routes.ts';

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

/** The shutdown sequence, steps 1 to 5; runs once, later calls get the same promise. */
function shutdownOnce(server: Server, inFlight: InFlight, options: ServeOptions) {
  const { logger, readiness } = options;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let running: Promise<void> | undefined;
  const shutdown = (reason: string, exitCode = 0): Promise<void> =>
    (running ??= (async () => {
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
      const timeoutMs = options.shutdownTimeoutMs;
      const drained = await drain(server, inFlight, timeoutMs, () =>
        logger.warn(
          { in_flight: inFlight.size, timeout_ms: timeoutMs },
          'shutdown timeout: closing remaining connections',
        ),
      );
      if (!drained) exitCode = exitCode || 1;
      logger.info({ exit_code: exitCode }, 'stopped; flushing telemetry');
      await flushTelemetry(options.closeLogger, options.flushTimeoutMs ?? 5000);
      exit(exitCode);
    })());
  return { shutdown, stopping: () => running !== undefined, exit };
}

/** Listens; resolves once ready, rejects (after the shutdown) when the port cannot be bound. */
function listen(server: Server, options: ServeOptions, shutdown: RunningServer['shutdown']) {
  const { logger } = options;
  return new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => {
      logger.fatal({ err: error, port: options.port }, 'cannot listen');
      void shutdown('cannot listen', 1).then(() => reject(error));
    };
    server.once('error', onError);
    server.listen(options.port, options.host, () => {
      server.off('error', onError);
      options.readiness.state = 'ready';
      const address = server.address();
      logger.info(
        {
          port: typeof address === 'object' && address ? address.port : options.port,
          startup_ms: Math.round(process.uptime() * 1000),
        },
        'ready',
      );
      resolve();
    });
  });
}

export async function serve(options: ServeOptions): Promise<RunningServer> {
  const server = createHardenedServer(options.app, options.logger);
  const inFlight = new InFlight(server, options.readiness);
  const { shutdown, stopping, exit } = shutdownOnce(server, inFlight, options);
  onStopSignals(
    stopping,
    (signal) => void shutdown(signal),
    () => exit(130),
  );
  onCrash(stopping, (error, msg) => {
    options.logger.fatal({ err: error }, msg);
    void shutdown(msg, 1);
  });
  await listen(server, options, shutdown);
  return { server, shutdown };
}
