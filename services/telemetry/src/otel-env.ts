// The project's defaults for standard OpenTelemetry environment variables, and pure readers of the
// two variables the project acts on itself (register.ts, sdk.ts). Everything else NodeSDK reads. The defaults
// are applied to the process environment only when the variable is unset, before the SDK starts, so
// every reader (the exporters, NodeSDK, the log transport's worker thread, which gets a copy of the
// environment) sees them like any user setting, and every OTEL_* variable the user sets keeps its
// standard meaning.

import type { Env } from './env.ts';

export const OTEL_ENV_DEFAULTS: Readonly<Record<string, string>> = {
  // The suite's collector contract is OTLP over gRPC (default endpoint http://localhost:4317). Both
  // NodeSDK (traces, metrics) and the log transport's worker pick their exporter from this variable
  // and would otherwise use the specification's http/protobuf. A user who sets it or a per-signal
  // *_PROTOCOL keeps full control.
  OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
  // 10 s instead of the specification's 60 s: every export becomes one Prometheus sample (OTLP push,
  // no scrape), and dashboards using rate() over 1 minute windows need several samples per window.
  // Cost: one small gRPC call per service every 10 s.
  OTEL_METRIC_EXPORT_INTERVAL: '10000',
  // Keeps the export timeout below the interval (the 30 s default would be clamped to it anyway).
  OTEL_METRIC_EXPORT_TIMEOUT: '5000',
  // Attribute values are cut to 1024 characters (the specification's default is no limit): a
  // server span carries client-chosen strings (url.path, url.query, user_agent.original,
  // server.address from Host), and unbounded they let one client make a span batch larger than
  // the 4 MiB a gRPC receiver accepts, which loses the whole batch, other requests' spans included.
  // Bounded, a server span stays under about 6 KiB and a batch of 512 (OTEL_BSP_MAX_EXPORT_BATCH_SIZE)
  // under about 3 MiB. OTEL_SPAN_/OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT override it per signal.
  OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '1024',
};

/**
 * The value length limit for log record attributes (OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT,
 * else OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT); undefined for no limit (unset, empty or not a
 * non-negative integer, as the SDK treats it). Pure.
 */
export function logAttributeValueLengthLimit(env: Env): number | undefined {
  for (const name of [
    'OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT',
    'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT',
  ]) {
    const text = env[name]?.trim();
    if (!text) continue;
    const value = Number(text);
    if (Number.isSafeInteger(value) && value >= 0) return value;
  }
  return undefined;
}

/** The defaults `env` lacks (empty counts as unset, as in the SDK). Pure. */
export function missingOtelDefaults(env: Env): Record<string, string> {
  const missing: Record<string, string> = {};
  for (const [name, value] of Object.entries(OTEL_ENV_DEFAULTS)) {
    if (env[name] === undefined || env[name]?.trim() === '') missing[name] = value;
  }
  // With a user-chosen interval, our timeout default could exceed it: leave the timeout to the
  // reader's default (30 s, which NodeSDK clamps to the interval).
  if ('OTEL_METRIC_EXPORT_TIMEOUT' in missing && !('OTEL_METRIC_EXPORT_INTERVAL' in missing)) {
    delete missing.OTEL_METRIC_EXPORT_TIMEOUT;
  }
  return missing;
}

/** True when the SDK is switched off by the standard variable. */
export function sdkDisabled(env: Env): boolean {
  return env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true';
}

/** True unless OTEL_LOGS_EXPORTER lists "none" (then no OTLP log transport is started). */
export function logsExportEnabled(env: Env): boolean {
  const list = (env.OTEL_LOGS_EXPORTER ?? '').split(',').map((s) => s.trim().toLowerCase());
  return !list.includes('none');
}

export type LogExport = 'transport' | 'sdk';

/**
 * LOG_EXPORT: how log records reach the collector. `transport` (default): pino-opentelemetry-transport
 * in pino's worker thread; `sdk`: instrumentation-pino hands each record to the SDK's logs pipeline
 * in the main thread, and stdout is written without a worker. Anything else: the default, and
 * `unknown` names it so the caller can warn.
 */
export function logExport(env: Env): { value: LogExport; unknown?: string } {
  const raw = env.LOG_EXPORT?.trim().toLowerCase() ?? '';
  if (raw === 'sdk' || raw === 'transport') return { value: raw };
  return raw === '' ? { value: 'transport' } : { value: 'transport', unknown: raw };
}
