// Starts the OpenTelemetry SDK for this process. Loaded (main thread only) by register.ts, which runs
// through `node --import @nos/telemetry/register`, i.e. before the application's first import.
//
// What it sets up and why:
// - The ESM loader hook (loader-hook.ts, import-in-the-middle): without it `import express from
//   'express'` in an ES module is never patched and there are no route spans. It intercepts only
//   the modules an instrumentation patches (express, pino, http, https).
// - NodeSDK (@opentelemetry/sdk-node) with five instrumentations: http, express, undici, pino,
//   runtime-node, and no fs/dns/net noise (instrumentations.ts).
// - Traces and metrics: over OTLP/gRPC (the default, otel-env.ts) their exporters are constructed in
//   exporters.ts; any other OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER / protocol choice is
//   NodeSDK's. NodeSDK builds the span processor (OTEL_BSP_*), sampler (OTEL_TRACES_SAMPLER*), span
//   limits and propagators (OTEL_PROPAGATORS; default W3C tracecontext + baggage).
//   Logs are NOT exported from here: pino's transport worker exports them (see logger.ts).
// - OpenTelemetry's own errors go through a rate-limited reporter to stderr, so an unreachable
//   collector is reported once a minute per message instead of on every export. Exporter memory is
//   bounded by the batch processor queue (OTEL_BSP_MAX_QUEUE_SIZE, default 2048 spans; extra spans are
//   dropped and counted) and the exporters' limit on concurrent exports.

import { DiagLogLevel, diag, type DiagLogger } from '@opentelemetry/api';
import { setGlobalErrorHandler } from '@opentelemetry/core';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { RateLimitedReporter, errorMessage, type ReportLine } from './error-reporter.ts';
import { grpcExporterOptions } from './exporters.ts';
import { writeFallback } from './fallback-log.ts';
import { createInstrumentations } from './instrumentations.ts';
import { withLoaderHook } from './loader-hook.ts';
import { logExport, logsExportEnabled, missingOtelDefaults } from './otel-env.ts';
import { buildResource, selectDetectors } from './resource.ts';
import { currentServiceInfo } from './service-info.ts';
import { setTelemetryState } from './state.ts';

/** Repeats of the same OpenTelemetry problem are summarised once per window. */
const REPORT_WINDOW_MS = 60_000;

function writeProblem(line: ReportLine): void {
  writeFallback(line.level, line.msg, {
    component: 'opentelemetry',
    ...(line.suppressed > 0 ? { suppressedSinceLastReport: line.suppressed } : {}),
  });
}

function reportingDiagLogger(reporter: RateLimitedReporter): DiagLogger {
  const format = (message: string, args: unknown[]) =>
    [message, ...args.map((a) => errorMessage(a))].join(' ');
  const ignore = () => {};
  return {
    error: (message, ...args) => reporter.report('error', format(message, args)),
    warn: (message, ...args) => reporter.report('warn', format(message, args)),
    info: ignore,
    debug: ignore,
    verbose: ignore,
  };
}

export async function startTelemetry(): Promise<void> {
  Object.assign(process.env, missingOtelDefaults(process.env));

  const reporter = new RateLimitedReporter({ windowMs: REPORT_WINDOW_MS, write: writeProblem });
  const reportProblem = (level: 'warn' | 'error', message: string) =>
    reporter.report(level, message);
  const service = currentServiceInfo();

  // OTEL_LOG_LEVEL, when set, is honoured by NodeSDK (it installs its console logger). Otherwise
  // warnings and errors are reported, rate-limited.
  if (!process.env.OTEL_LOG_LEVEL) {
    diag.setLogger(reportingDiagLogger(reporter), { logLevel: DiagLogLevel.WARN });
  }
  setGlobalErrorHandler((error) =>
    reporter.report('error', `OpenTelemetry export failed: ${errorMessage(error)}`),
  );

  const selection = selectDetectors(process.env.OTEL_NODE_RESOURCE_DETECTORS);
  for (const name of selection.unknown) {
    reporter.report('warn', `OTEL_NODE_RESOURCE_DETECTORS: unknown detector "${name}" ignored`);
  }
  const resource = await buildResource(service, selection.detectors);

  const logsEnabled = logsExportEnabled(process.env);
  const { value: logsBy, unknown } = logExport(process.env);
  if (unknown) reporter.report('warn', `LOG_EXPORT: unknown value "${unknown}", transport used`);
  const sdkLogs = logsEnabled && logsBy === 'sdk';
  const instrumentations = await withLoaderHook(() =>
    createInstrumentations(process.env, { logSending: sdkLogs }),
  );
  const sdk = new NodeSDK({
    resource,
    // Detection already happened above (with the container detector and the env detectors last).
    autoDetectResources: false,
    ...grpcExporterOptions(),
    instrumentations,
    // Logs leave through pino-opentelemetry-transport (logger.ts), not through this SDK, unless
    // LOG_EXPORT=sdk: then NodeSDK builds the logs pipeline from OTEL_LOGS_EXPORTER, OTEL_BLRP_*.
    ...(sdkLogs ? {} : { logRecordProcessors: [] }),
  });
  sdk.start();

  let stopped: Promise<void> | undefined;
  setTelemetryState({
    service,
    resourceAttributes: resource.attributes,
    logsEnabled,
    logExport: logsBy,
    shutdown: () => (stopped ??= sdk.shutdown()),
    reportProblem,
  });
}
