// Which exporters the preload constructs itself (OTLP over gRPC) and which it leaves to NodeSDK.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { exportsOtlpGrpc, grpcExporterOptions, metricReaderTiming } from '@nos/telemetry/exporters';

/** Runs `body` with only `env` of the OTEL_* variables set. */
function withOtelEnv<T>(env: Record<string, string>, body: () => T): T {
  const saved = process.env;
  try {
    process.env = {
      ...Object.fromEntries(Object.entries(saved).filter(([name]) => !name.startsWith('OTEL_'))),
      ...env,
    };
    return body();
  } finally {
    process.env = saved;
  }
}

describe('exporters', () => {
  test("the gRPC exporters are constructed for OTLP over gRPC, every other choice is the SDK's", () => {
    const grpc = { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' };
    assert.equal(
      withOtelEnv(grpc, () => exportsOtlpGrpc('TRACES')),
      true,
    );
    assert.equal(
      withOtelEnv({ ...grpc, OTEL_TRACES_EXPORTER: 'otlp' }, () => exportsOtlpGrpc('TRACES')),
      true,
    );
    const others: Record<string, string>[] = [
      {},
      { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' },
      { ...grpc, OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/protobuf' },
      { ...grpc, OTEL_METRICS_EXPORTER: 'none' },
      { ...grpc, OTEL_METRICS_EXPORTER: 'otlp,console' },
    ];
    for (const env of others) {
      assert.equal(
        withOtelEnv(env, () => exportsOtlpGrpc('METRICS')),
        false,
        JSON.stringify(env),
      );
    }
    const options = withOtelEnv(
      { ...grpc, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' },
      grpcExporterOptions,
    );
    assert.equal(options.traceExporter, undefined, 'traces left to the SDK');
    assert.equal(options.metricReaders?.length, 1, 'metrics over gRPC');
    for (const reader of options.metricReaders ?? []) void reader.shutdown();
  });

  test('the metric reader keeps the standard interval and timeout, the timeout clamped', () => {
    assert.deepEqual(withOtelEnv({}, metricReaderTiming), {
      exportIntervalMillis: 60_000,
      exportTimeoutMillis: 30_000,
    });
    assert.deepEqual(
      withOtelEnv(
        { OTEL_METRIC_EXPORT_INTERVAL: '10000', OTEL_METRIC_EXPORT_TIMEOUT: '5000' },
        metricReaderTiming,
      ),
      { exportIntervalMillis: 10_000, exportTimeoutMillis: 5_000 },
    );
    assert.deepEqual(withOtelEnv({ OTEL_METRIC_EXPORT_INTERVAL: '500' }, metricReaderTiming), {
      exportIntervalMillis: 500,
      exportTimeoutMillis: 500,
    });
  });
});
