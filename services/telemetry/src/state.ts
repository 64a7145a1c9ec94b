// What the preload (register) hands to the application: the resolved resource (so the log transport's
// worker thread stamps its records with exactly the same resource) and the SDK's shutdown. Kept on
// globalThis under a registered symbol so it survives any duplicate module instance.

import type { Attributes } from '@opentelemetry/api';
import type { ServiceInfo } from './resource.ts';

export interface TelemetryState {
  service: ServiceInfo;
  /** Settled resource attributes of the SDK (also given to the log transport). */
  resourceAttributes: Attributes;
  /** False when OTEL_LOGS_EXPORTER=none: no OTLP log export. */
  logsEnabled: boolean;
  /** Who exports the log records: pino's transport worker, or the SDK in the main thread. */
  logExport: 'transport' | 'sdk';
  /** Flushes and stops traces and metrics. Safe to call more than once. */
  shutdown(): Promise<void>;
  /** Writes OpenTelemetry's own problems, rate-limited (see error-reporter.ts). */
  reportProblem(level: 'warn' | 'error', message: string): void;
}

const KEY = Symbol.for('node-observability-stack.telemetry');

type WithState = typeof globalThis & { [KEY]?: TelemetryState };

export function setTelemetryState(state: TelemetryState): void {
  (globalThis as WithState)[KEY] = state;
}

/** Undefined when the process was started without `--import @nos/telemetry/register`. */
export function getTelemetryState(): TelemetryState | undefined {
  return (globalThis as WithState)[KEY];
}
