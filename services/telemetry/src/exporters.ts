// The exporters of traces and metrics. The suite's collector contract is OTLP over gRPC, so when a
// signal resolves to it (the OTEL_*_EXPORTER list is unset or "otlp", and its protocol, after the
// project's default in otel-env.ts, is "grpc"), its exporter is constructed here from the gRPC
// exporter packages this package declares. Any other choice (http/protobuf, console, none, several
// exporters) is left to NodeSDK's own selection from the same variables, so every OTEL_* setting
// keeps its standard meaning. The exporters themselves read OTEL_EXPORTER_OTLP_* (endpoint, headers,
// compression, timeout, certificates); the span processor reads OTEL_BSP_*.

import { getNumberFromEnv, getStringFromEnv, getStringListFromEnv } from '@opentelemetry/core';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { NodeSDKConfiguration } from '@opentelemetry/sdk-node';

type Signal = 'TRACES' | 'METRICS';
type ExporterOptions = Partial<Pick<NodeSDKConfiguration, 'traceExporter' | 'metricReaders'>>;

/** True when `signal` is exported by OTLP over gRPC alone (read from process.env, as the SDK does). */
export function exportsOtlpGrpc(signal: Signal): boolean {
  const exporters = [...new Set(getStringListFromEnv(`OTEL_${signal}_EXPORTER`) ?? [])];
  if (exporters.length > 1 || (exporters.length === 1 && exporters[0] !== 'otlp')) return false;
  const protocol =
    getStringFromEnv(`OTEL_EXPORTER_OTLP_${signal}_PROTOCOL`) ??
    getStringFromEnv('OTEL_EXPORTER_OTLP_PROTOCOL');
  return protocol === 'grpc';
}

/** The metric reader's interval and timeout, as NodeSDK reads them (the timeout clamped). */
export function metricReaderTiming(): {
  exportIntervalMillis: number;
  exportTimeoutMillis: number;
} {
  const interval = getNumberFromEnv('OTEL_METRIC_EXPORT_INTERVAL');
  const timeout = getNumberFromEnv('OTEL_METRIC_EXPORT_TIMEOUT');
  const exportIntervalMillis = interval !== undefined && interval >= 0 ? interval : 60_000;
  const exportTimeoutMillis = timeout !== undefined && timeout >= 0 ? timeout : 30_000;
  return {
    exportIntervalMillis,
    exportTimeoutMillis: Math.min(exportTimeoutMillis, exportIntervalMillis),
  };
}

/** NodeSDK options with the gRPC exporters for the signals that use them; empty for the others. */
export function grpcExporterOptions(): ExporterOptions {
  const options: ExporterOptions = {};
  if (exportsOtlpGrpc('TRACES')) options.traceExporter = new OTLPTraceExporter();
  if (exportsOtlpGrpc('METRICS')) {
    options.metricReaders = [
      new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter(),
        ...metricReaderTiming(),
      }),
    ];
  }
  return options;
}
