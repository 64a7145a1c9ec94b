// Starts the OpenTelemetry SDK for this process. Loaded (main thread only) by register.ts, which runs
// through `node --import @nos/telemetry/register`, i.e. before the application's first import.
//
// What it sets up and why:
// - The ESM loader hook (@opentelemetry/instrumentation/hook.mjs, backed by import-in-the-middle):
//   without it `import express from 'express'` in an ES module is never patched and there are no
//   route spans. It is registered in "include only what is hooked" mode: only modules an
//   instrumentation asked for (express, pino, http, https) are intercepted, everything else loads
//   untouched.
// - NodeSDK with every exporter, processor, sampler and propagator chosen from the standard OTEL_*
//   variables (see otel-env.ts for the two defaults this project adds). Traces, metrics: OTLP gRPC by
//   default. Propagation: W3C tracecontext + baggage (the SDK default when OTEL_PROPAGATORS is unset).
//   Logs are NOT exported from here: pino's transport worker exports them (see logger.ts).
// - Five instrumentations only (http, express, undici, pino, runtime-node): no fs/dns/net noise.
// - OpenTelemetry's own errors go through a rate-limited reporter to stderr, so an unreachable
//   collector is reported once a minute per message instead of on every export. Exporter memory is
//   bounded by the batch processor queue (OTEL_BSP_MAX_QUEUE_SIZE, default 2048 spans; extra spans are
//   dropped and counted) and the exporters' limit on concurrent exports.

import { register } from 'node:module';
import { DiagLogLevel, diag, type DiagLogger } from '@opentelemetry/api';
import { setGlobalErrorHandler } from '@opentelemetry/core';
import { ExpressInstrumentation, ExpressLayerType } from '@opentelemetry/instrumentation-express';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PinoInstrumentation } from '@opentelemetry/instrumentation-pino';
import { RuntimeNodeInstrumentation } from '@opentelemetry/instrumentation-runtime-node';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { createAddHookMessageChannel } from 'import-in-the-middle';
import { RateLimitedReporter, errorMessage, type ReportLine } from './error-reporter.ts';
import { logsExportEnabled, missingOtelDefaults, sdkDisabled } from './otel-env.ts';
import { buildResource, selectDetectors, serviceAttributes } from './resource.ts';
import { currentServiceInfo } from './service-info.ts';
import { setTelemetryState } from './state.ts';

/** Repeats of the same OpenTelemetry problem are summarised once per window. */
const REPORT_WINDOW_MS = 60_000;

export function createInstrumentations() {
  return [
    // Incoming requests (server spans, http.server.request.duration) and http/https client calls.
    // instrumentation-http >= 0.222 emits only the stable HTTP semantic conventions (span attributes
    // and the http.*.request.duration metrics in seconds): OTEL_SEMCONV_STABILITY_OPT_IN is no longer
    // needed and no longer read.
    new HttpInstrumentation(),
    // Express is instrumented for one thing: it reports the matched route template, from which
    // instrumentation-http names the server span "GET /user/:id" and sets http.route on the span and
    // on http.server.request.duration. The per-middleware spans are switched off: one request = one
    // server span per service, not a dozen "middleware - jsonParser" spans.
    new ExpressInstrumentation({
      ignoreLayersType: [
        ExpressLayerType.MIDDLEWARE,
        ExpressLayerType.ROUTER,
        ExpressLayerType.REQUEST_HANDLER,
      ],
    }),
    // Node's global fetch() is undici, which instrumentation-http does not see: this gives the
    // gateway's call to user-service its CLIENT span, W3C traceparent/baggage injection and
    // http.client.request.duration.
    new UndiciInstrumentation(),
    // Log correlation only: trace_id, span_id, trace_flags in every record written inside a span.
    // Log SENDING is off because pino-opentelemetry-transport already exports every record; with both
    // on, each record would reach the collector twice.
    new PinoInstrumentation({ disableLogSending: true }),
    // nodejs.eventloop.*, v8js.* runtime metrics.
    new RuntimeNodeInstrumentation(),
  ];
}

function writeProblem(line: ReportLine): void {
  // Same shape as the application's pino lines (level 40 = warn, 50 = error), on stderr.
  const record: Record<string, unknown> = {
    level: line.level === 'error' ? 50 : 40,
    time: Date.now(),
    pid: process.pid,
    component: 'opentelemetry',
    msg: line.msg,
  };
  if (line.suppressed > 0) record.suppressedSinceLastReport = line.suppressed;
  process.stderr.write(`${JSON.stringify(record)}\n`);
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

  if (sdkDisabled(process.env)) {
    setTelemetryState({
      service,
      resourceAttributes: serviceAttributes(service),
      logsEnabled: false,
      shutdown: async () => {},
      reportProblem,
    });
    return;
  }

  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url, registerOptions);

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

  const sdk = new NodeSDK({
    resource,
    // Detection already happened above (with the container detector and the env detectors last).
    autoDetectResources: false,
    instrumentations: createInstrumentations(),
    // Logs leave through pino-opentelemetry-transport (logger.ts), not through this SDK.
    logRecordProcessors: [],
  });
  sdk.start();
  // The loader must know every hooked module before the application's first import runs.
  await waitForAllMessagesAcknowledged();

  let stopped: Promise<void> | undefined;
  setTelemetryState({
    service,
    resourceAttributes: resource.attributes,
    logsEnabled: logsExportEnabled(process.env),
    shutdown: () => (stopped ??= sdk.shutdown()),
    reportProblem,
  });
}
