// What the process itself tells a service: stop signals and crashes.

import { writeFallback } from '@nos/telemetry';

/** A repeat of the same signal within this window is one request delivered twice. */
const DUPLICATE_SIGNAL_MS = 1000;

/**
 * Calls `stop` on the first SIGTERM or SIGINT, and `exitNow` on a second one while stopping, except
 * the same signal within a second of the first: Ctrl-C in a terminal signals the whole process
 * group, npm included, and `npm start` forwards SIGINT and SIGTERM to the service.
 */
export function onStopSignals(
  stopping: () => boolean,
  stop: (signal: NodeJS.Signals) => void,
  exitNow: () => void,
): void {
  let first: { signal: NodeJS.Signals; at: number } | undefined;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      const now = Date.now();
      if (first?.signal === signal && now - first.at < DUPLICATE_SIGNAL_MS) return;
      first ??= { signal, at: now };
      if (stopping()) {
        writeFallback('warn', `${signal} received again during shutdown: exiting now`);
        exitNow();
        return;
      }
      stop(signal);
    });
  }
}

/**
 * Calls `crash` for an uncaught exception or an unhandled rejection; once stopping, the logger may
 * be closed already, so the error goes to stderr instead.
 */
export function onCrash(
  stopping: () => boolean,
  crash: (error: unknown, msg: string) => void,
): void {
  const fatal = (error: unknown, msg: string) => {
    if (stopping()) writeFallback('fatal', msg, { err: String(error) });
    else crash(error, msg);
  };
  process.on('uncaughtException', (error) => fatal(error, 'uncaught exception'));
  process.on('unhandledRejection', (reason) => fatal(reason, 'unhandled promise rejection'));
}
