// The services' logger: pino, JSON, with one transport worker thread and two targets:
//   1. stdout (fd 1): one JSON line per record, for `docker logs` / kubectl logs / local terminals;
//   2. pino-opentelemetry-transport: the same records as OTLP log records (gRPC by default, to the
//      same OTEL_EXPORTER_OTLP_ENDPOINT as traces and metrics).
// instrumentation-pino (started by the preload) adds trace_id, span_id and trace_flags to every
// record written inside a span; the transport turns them back into the OTLP record's trace and span
// ids, so Loki and Tempo link both ways. Each record is exported once: by the transport (the
// instrumentation's own log sending is disabled in instrumentations.ts).
//
// The worker starts without the process's preloads (--import, --require, --experimental-loader, also
// from NODE_OPTIONS): it serves no requests, and a zero-code register there (the stock mode,
// bin/start.sh) would start a second SDK that exports its own runtime metrics under the service's
// name. The tuned register also guards itself (register.ts).
//
// The transport worker builds its own OpenTelemetry resource; it gets the SDK's settled resource
// attributes so logs carry exactly the same service.name, service.instance.id, ... as spans and
// metrics. Call `close()` at shutdown: it ends the worker, which flushes its batch processor.

import { once } from 'node:events';
import { pino, type Logger, type LoggerOptions, type TransportTargetOptions } from 'pino';
import type { Env } from './env.ts';
import { writeFallback } from './fallback-log.ts';
import { logAttributeValueLengthLimit } from './otel-env.ts';
import { getTelemetryState } from './state.ts';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface AppLogger {
  logger: Logger;
  /** Flushes stdout and the OTLP export, then stops the transport worker. Idempotent. */
  close(timeoutMs?: number): Promise<void>;
}

/**
 * The standard OTEL_BLRP_* settings. The SDK applies them only to processors it builds itself, and
 * the transport builds its own, so they are passed explicitly (unset or invalid: SDK defaults).
 */
export function batchLogProcessorConfig(env: Env): Record<string, number> {
  const names = {
    maxQueueSize: 'OTEL_BLRP_MAX_QUEUE_SIZE',
    scheduledDelayMillis: 'OTEL_BLRP_SCHEDULE_DELAY',
    exportTimeoutMillis: 'OTEL_BLRP_EXPORT_TIMEOUT',
    maxExportBatchSize: 'OTEL_BLRP_MAX_EXPORT_BATCH_SIZE',
  };
  const config: Record<string, number> = {};
  for (const [option, name] of Object.entries(names)) {
    const value = Number(env[name]);
    if (env[name]?.trim() && Number.isFinite(value) && value > 0) config[option] = value;
  }
  return config;
}

/**
 * pino's `formatters.log`: cuts every top-level string field (what becomes an OTLP log record
 * attribute) to `limit` characters. The transport's own logs SDK applies no limit and reads no
 * environment, so the standard limit is applied here, to stdout and OTLP alike. Nested values
 * (an error's stack) are left whole.
 */
export function truncateFields(limit: number) {
  return (object: Record<string, unknown>): Record<string, unknown> => {
    let copy: Record<string, unknown> | undefined;
    for (const key in object) {
      const value = object[key];
      if (typeof value === 'string' && value.length > limit) {
        copy ??= { ...object };
        copy[key] = value.slice(0, limit);
      }
    }
    return copy ?? object;
  };
}

const PRELOAD_FLAGS = ['--import', '--require', '-r', '--experimental-loader', '--loader'];

/** Node options without the preloads: a flag with its value, or `--flag=value`. Pure. */
export function withoutPreloads(args: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (PRELOAD_FLAGS.includes(arg)) {
      i++;
      continue;
    }
    if (PRELOAD_FLAGS.some((flag) => arg.startsWith(`${flag}=`))) continue;
    kept.push(arg);
  }
  return kept;
}

/** The environment for the log worker: NODE_OPTIONS without its preloads. */
export function workerEnv(env: Env): Record<string, string | undefined> {
  if (!env.NODE_OPTIONS) return { ...env };
  // NODE_OPTIONS is split on spaces outside double quotes, as Node does.
  const tokens = env.NODE_OPTIONS.match(/(?:[^\s"]+|"[^"]*")+/g) ?? [];
  return { ...env, NODE_OPTIONS: withoutPreloads(tokens).join(' ') };
}

/**
 * What both loggers share. No pid and hostname in every line: they are resource attributes
 * (process.pid, host.name) of the OTLP records, and the container runtime labels stdout. Shorter
 * lines cost less to hand over.
 */
function loggerOptions(level: LogLevel): LoggerOptions {
  const limit = logAttributeValueLengthLimit(process.env);
  return {
    level,
    base: undefined,
    ...(limit === undefined ? {} : { formatters: { log: truncateFields(limit) } }),
  };
}

/** stdout from the main thread (sonic-boom, asynchronous): no worker when the SDK exports the logs. */
function directLogger(level: LogLevel): AppLogger {
  const destination = pino.destination({ dest: 1, sync: false });
  const logger = pino(loggerOptions(level), destination);
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      logger.level = 'silent';
      await new Promise<void>((resolve) => {
        destination.flush(() => resolve());
      });
    })());
  return { logger, close };
}

export function createLogger(options: { level: LogLevel }): AppLogger {
  const state = getTelemetryState();
  if (state?.logsEnabled && state.logExport === 'sdk') return directLogger(options.level);
  // "silent" is not a valid transport target level; nothing reaches the targets anyway.
  const targetLevel = options.level === 'silent' ? 'fatal' : options.level;
  const targets: TransportTargetOptions[] = [
    { target: 'pino/file', level: targetLevel, options: { destination: 1 } },
  ];
  if (state?.logsEnabled && state.logExport === 'transport') {
    // Drop the SDK's telemetry.sdk.* identity: the worker runs a different (its own) logs SDK.
    const resourceAttributes = Object.fromEntries(
      Object.entries(state.resourceAttributes).filter(([key]) => !key.startsWith('telemetry.sdk.')),
    );
    targets.push({
      // Resolved here so the worker finds it whatever its working directory.
      target: import.meta.resolve('pino-opentelemetry-transport'),
      level: targetLevel,
      options: {
        loggerName: state.service.name,
        serviceVersion: state.service.version,
        resourceAttributes,
        // Exporter and protocol come from the OTEL_EXPORTER_OTLP_* variables (read by the worker).
        logRecordProcessorOptions: {
          recordProcessorType: 'batch',
          processorConfig: batchLogProcessorConfig(process.env),
        },
      },
    });
  }
  const transport = pino.transport({
    targets,
    // Worker threads accept no process-wide flags, so none is passed on (as pino does itself when
    // it is loaded by a preload).
    worker: { execArgv: [], env: workerEnv(process.env) },
  });
  // A failing transport must not crash the service (an 'error' without listener would throw).
  transport.on('error', (error: Error) => {
    const msg = `log transport failed: ${error.message}`;
    if (state) state.reportProblem('error', msg);
    else writeFallback('error', msg);
  });
  const logger = pino(loggerOptions(options.level), transport);

  let closing: Promise<void> | undefined;
  const close = (timeoutMs = 5000): Promise<void> =>
    (closing ??= (async () => {
      const closed = once(transport, 'close');
      transport.end();
      // Nothing may write to the ended transport (it would fail): later records are dropped.
      logger.level = 'silent';
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          state?.reportProblem('warn', `log transport did not close within ${timeoutMs} ms`);
          resolve();
        }, timeoutMs);
      });
      await Promise.race([closed.then(() => undefined), timeout]);
      clearTimeout(timer);
    })());
  return { logger, close };
}
