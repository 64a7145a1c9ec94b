// The project's defaults for standard OpenTelemetry environment variables, and pure readers of the
// variables whose meaning this project implements itself (used by sdk.ts and logger.ts). The defaults
// are applied to the process environment only when the variable is unset, before the SDK starts, so
// every reader (the exporters, NodeSDK, the log transport's worker thread, which gets a copy of the
// environment) sees them like any user setting, and every OTEL_* variable the user sets keeps its
// standard meaning.

import type { Env } from './config.ts';

export const OTEL_ENV_DEFAULTS: Readonly<Record<string, string>> = {
  // The suite's collector contract is OTLP over gRPC (default endpoint http://localhost:4317, the
  // exporters' own default). sdk.ts builds the gRPC trace and metric exporters itself, but two
  // readers would otherwise fall back to the specification's http/protobuf: the log transport's
  // worker (pino-opentelemetry-transport picks its exporter from this variable) and any exporter
  // NodeSDK builds from OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER (e.g. "otlp,console"). A user
  // who sets OTEL_EXPORTER_OTLP_PROTOCOL or a per-signal *_PROTOCOL keeps full control.
  OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
  // 10 s instead of the specification's 60 s: every export becomes one Prometheus sample (OTLP push,
  // no scrape), and dashboards using rate() over 1 minute windows need several samples per window.
  // Cost: one small gRPC call per service every 10 s.
  OTEL_METRIC_EXPORT_INTERVAL: '10000',
  // Keeps the export timeout below the interval (the 30 s default would be clamped to it anyway).
  OTEL_METRIC_EXPORT_TIMEOUT: '5000',
};

/** The defaults `env` lacks (empty counts as unset, as in the SDK). Pure. */
export function missingOtelDefaults(env: Env): Record<string, string> {
  const missing: Record<string, string> = {};
  for (const [name, value] of Object.entries(OTEL_ENV_DEFAULTS)) {
    if (env[name] === undefined || env[name]?.trim() === '') missing[name] = value;
  }
  // With a user-chosen interval, our timeout default could exceed it: leave the timeout to the
  // reader's default (30 s, clamped to the interval; see metricExportTiming).
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

export type ExportedSignal = 'traces' | 'metrics';

/**
 * True when the signal goes out the project's way, OTLP over gRPC through the exporter sdk.ts builds
 * itself: OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER unset or exactly "otlp", and the signal's
 * protocol (OTEL_EXPORTER_OTLP_<SIGNAL>_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL) unset or "grpc".
 * Any other choice ("none", "console", "zipkin", "prometheus", lists, OTLP over http/protobuf or
 * http/json) is left to NodeSDK, which builds it from the same variables as the specification says.
 */
export function usesOwnOtlpGrpcExporter(env: Env, signal: ExportedSignal): boolean {
  const exporters = (env[`OTEL_${signal.toUpperCase()}_EXPORTER`] ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const protocol =
    env[`OTEL_EXPORTER_OTLP_${signal.toUpperCase()}_PROTOCOL`]?.trim() ||
    env.OTEL_EXPORTER_OTLP_PROTOCOL?.trim() ||
    'grpc';
  const otlp = exporters.length === 0 || (exporters.length === 1 && exporters[0] === 'otlp');
  return otlp && protocol === 'grpc';
}

/**
 * OTEL_METRIC_EXPORT_INTERVAL and OTEL_METRIC_EXPORT_TIMEOUT for the metric reader sdk.ts builds,
 * read as NodeSDK reads them for its own readers: positive milliseconds, otherwise the specification
 * defaults (60 s, 30 s), and a timeout longer than the interval is clamped to it. `invalid` names the
 * variables that were set but not usable. Pure.
 */
export function metricExportTiming(env: Env): {
  exportIntervalMillis: number;
  exportTimeoutMillis: number;
  invalid: string[];
} {
  const invalid: string[] = [];
  const positive = (name: string): number | undefined => {
    const raw = env[name]?.trim();
    if (!raw) return undefined;
    const value = Number(raw);
    if (Number.isFinite(value) && value > 0) return value;
    invalid.push(name);
    return undefined;
  };
  const exportIntervalMillis = positive('OTEL_METRIC_EXPORT_INTERVAL') ?? 60_000;
  const timeout = positive('OTEL_METRIC_EXPORT_TIMEOUT') ?? 30_000;
  return {
    exportIntervalMillis,
    exportTimeoutMillis: Math.min(timeout, exportIntervalMillis),
    invalid,
  };
}
