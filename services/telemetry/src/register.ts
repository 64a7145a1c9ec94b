// Preload entry: `node --import @nos/telemetry/register dist/server.js`.
//
// Runs before the application's first import, which is what lets the instrumentations patch express,
// pino and http. Main thread only: worker threads inherit the process's execArgv, so pino's transport
// worker also runs this file; starting a second SDK there would duplicate runtime metrics and export
// from a thread that serves no requests. The SDK module is imported lazily, and only when
// OTEL_SDK_DISABLED is not "true": a disabled SDK costs no start-up time and no memory.

import { isMainThread } from 'node:worker_threads';
import { writeFallback } from './fallback-log.ts';
import { sdkDisabled } from './otel-env.ts';

if (isMainThread && !sdkDisabled(process.env)) {
  try {
    const { startTelemetry } = await import('./sdk.ts');
    await startTelemetry();
  } catch (error) {
    // Telemetry must never stop the service from serving: start uninstrumented and say so.
    writeFallback(
      'error',
      `OpenTelemetry could not start, continuing without telemetry: ${String(error)}`,
      { component: 'opentelemetry' },
    );
  }
}
