// The shared telemetry package's pure parts: OTEL_* defaults, the instrumentation allowlist, resource detection and precedence, rate-limited problem
// reporting, log batch settings, problem documents.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  RateLimitedReporter,
  errorMessage,
  type ReportLine,
} from '../../services/telemetry/src/error-reporter.ts';
import {
  exportsOtlpGrpc,
  grpcExporterOptions,
  metricReaderTiming,
} from '../../services/telemetry/src/exporters.ts';
import { errorStatus, problemBody, requestPath } from '../../services/telemetry/src/http.ts';
import {
  createInstrumentations,
  INSTRUMENTATION_NAMES,
  instrumentationConfig,
  selectInstrumentations,
} from '../../services/telemetry/src/instrumentations.ts';
import { hookedModules, loaderHookApi } from '../../services/telemetry/src/loader-hook.ts';
import { batchLogProcessorConfig, truncateFields } from '../../services/telemetry/src/logger.ts';
import {
  OTEL_ENV_DEFAULTS,
  logAttributeValueLengthLimit,
  logExport,
  logsExportEnabled,
  missingOtelDefaults,
  sdkDisabled,
} from '../../services/telemetry/src/otel-env.ts';
import {
  buildResource,
  DETECTOR_NAMES,
  selectDetectors,
} from '../../services/telemetry/src/resource.ts';
import {
  findServiceInfo,
  serviceNameFromPackageName,
} from '../../services/telemetry/src/service-info.ts';
import { repoRoot } from '../support/service-process.ts';

describe('OTEL_* defaults', () => {
  test('applied only where the user set nothing', () => {
    assert.deepEqual(missingOtelDefaults({}), OTEL_ENV_DEFAULTS);
    assert.equal(OTEL_ENV_DEFAULTS.OTEL_EXPORTER_OTLP_PROTOCOL, 'grpc');
    const user = missingOtelDefaults({
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_METRIC_EXPORT_INTERVAL: '500',
    });
    assert.equal(user.OTEL_EXPORTER_OTLP_PROTOCOL, undefined);
    assert.equal(user.OTEL_METRIC_EXPORT_INTERVAL, undefined);
    // With a user interval, the timeout is left to the reader's default (clamped to the interval).
    assert.equal(user.OTEL_METRIC_EXPORT_TIMEOUT, undefined);
    assert.equal(
      missingOtelDefaults({ OTEL_EXPORTER_OTLP_PROTOCOL: ' ' }).OTEL_EXPORTER_OTLP_PROTOCOL,
      'grpc',
    );
  });

  test('attribute value length: 1024 by default, the per-signal variable wins for logs', () => {
    assert.equal(OTEL_ENV_DEFAULTS.OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT, '1024');
    assert.equal(
      missingOtelDefaults({ OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '99' })
        .OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT,
      undefined,
    );
    assert.equal(logAttributeValueLengthLimit({}), undefined);
    assert.equal(logAttributeValueLengthLimit({ OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '1024' }), 1024);
    assert.equal(
      logAttributeValueLengthLimit({
        OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '1024',
        OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT: '10',
      }),
      10,
    );
    assert.equal(
      logAttributeValueLengthLimit({ OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: 'x' }),
      undefined,
    );
    const cut = truncateFields(3)({ a: 'abcdef', b: 'ab', n: 12345, err: { stack: 'long stack' } });
    assert.deepEqual(cut, { a: 'abc', b: 'ab', n: 12345, err: { stack: 'long stack' } });
  });

  test('OTEL_SDK_DISABLED and OTEL_LOGS_EXPORTER', () => {
    assert.equal(sdkDisabled({ OTEL_SDK_DISABLED: 'TRUE' }), true);
    assert.equal(sdkDisabled({ OTEL_SDK_DISABLED: 'false' }), false);
    assert.equal(sdkDisabled({}), false);
    assert.equal(logsExportEnabled({}), true);
    assert.equal(logsExportEnabled({ OTEL_LOGS_EXPORTER: 'otlp' }), true);
    assert.equal(logsExportEnabled({ OTEL_LOGS_EXPORTER: 'console, none' }), false);
  });

  test('OTEL_BLRP_* reach the log transport', () => {
    assert.deepEqual(batchLogProcessorConfig({}), {});
    assert.deepEqual(
      batchLogProcessorConfig({
        OTEL_BLRP_SCHEDULE_DELAY: '200',
        OTEL_BLRP_MAX_QUEUE_SIZE: '4096',
        OTEL_BLRP_EXPORT_TIMEOUT: 'soon',
        OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: '-1',
      }),
      { scheduledDelayMillis: 200, maxQueueSize: 4096 },
    );
  });
});

describe('resource', () => {
  test('OTEL_NODE_RESOURCE_DETECTORS selects detectors; env detectors stay last', () => {
    assert.deepEqual(selectDetectors(undefined).names, DETECTOR_NAMES);
    assert.deepEqual(selectDetectors('all').names, DETECTOR_NAMES);
    assert.deepEqual(selectDetectors('none').names, []);
    const some = selectDetectors('env, host,bogus');
    assert.deepEqual(some.names, ['host', 'env']);
    assert.deepEqual(some.unknown, ['bogus']);
    assert.equal(DETECTOR_NAMES.at(-1), 'env');
    assert.ok(DETECTOR_NAMES.includes('container'));
  });

  test('precedence: project defaults < detectors < OTEL_RESOURCE_ATTRIBUTES < OTEL_SERVICE_NAME', async () => {
    const saved = { ...process.env };
    try {
      process.env.OTEL_RESOURCE_ATTRIBUTES =
        'deployment.environment.name=staging,service.instance.id=pod-1,service.name=from-attributes';
      delete process.env.OTEL_SERVICE_NAME;
      const { detectors } = selectDetectors(undefined);
      let resource = await buildResource({ name: 'api-gateway', version: '1.2.3' }, detectors);
      assert.equal(resource.attributes['service.name'], 'from-attributes');
      assert.equal(resource.attributes['service.version'], '1.2.3');
      assert.equal(resource.attributes['service.namespace'], 'node-observability-stack');
      assert.equal(resource.attributes['deployment.environment.name'], 'staging');
      assert.equal(resource.attributes['service.instance.id'], 'pod-1');
      assert.equal(resource.attributes['telemetry.sdk.language'], 'nodejs');
      assert.equal(resource.attributes['process.pid'], process.pid);
      const containerId = resource.attributes['container.id'];
      assert.ok(
        containerId === undefined || (typeof containerId === 'string' && containerId !== ''),
        'never an empty container.id',
      );

      process.env.OTEL_SERVICE_NAME = 'from-service-name';
      delete process.env.OTEL_RESOURCE_ATTRIBUTES;
      resource = await buildResource({ name: 'api-gateway', version: '1.2.3' }, detectors);
      assert.equal(resource.attributes['service.name'], 'from-service-name');
      assert.equal(resource.attributes['deployment.environment.name'], 'local');
      assert.match(String(resource.attributes['service.instance.id']), /^[0-9a-f-]{36}$/);
    } finally {
      process.env = saved;
    }
  });

  test('service name and version come from the nearest package.json', () => {
    assert.equal(serviceNameFromPackageName('@nos/api-gateway'), 'api-gateway');
    assert.equal(serviceNameFromPackageName('plain'), 'plain');
    assert.deepEqual(findServiceInfo(`${repoRoot}/services/user-service/src`), {
      name: 'user-service',
      version: '0.1.0',
    });
  });
});

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

describe('LOG_EXPORT', () => {
  test('transport by default, sdk when asked; anything else is named and the default used', () => {
    assert.deepEqual(logExport({}), { value: 'transport' });
    assert.deepEqual(logExport({ LOG_EXPORT: ' SDK ' }), { value: 'sdk' });
    assert.deepEqual(logExport({ LOG_EXPORT: 'transport' }), { value: 'transport' });
    assert.deepEqual(logExport({ LOG_EXPORT: 'worker' }), {
      value: 'transport',
      unknown: 'worker',
    });
  });
});

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

describe('instrumentations', () => {
  const ON = [
    '@opentelemetry/instrumentation-http',
    '@opentelemetry/instrumentation-express',
    '@opentelemetry/instrumentation-undici',
    '@opentelemetry/instrumentation-pino',
    '@opentelemetry/instrumentation-runtime-node',
  ];

  /** Instrumentation names created under `env` (then disabled again: creating one enables it). */
  function created(env: Record<string, string>): string[] {
    const instrumentations = createInstrumentations(env);
    for (const i of instrumentations) i.disable();
    return instrumentations.map((i) => i.instrumentationName).sort();
  }

  test('five, configured: no duplicate log sending, no middleware spans', () => {
    const config = instrumentationConfig();
    assert.deepEqual(Object.keys(config).sort(), [...INSTRUMENTATION_NAMES].sort());
    // The transport exports every record: instrumentation-pino only adds the trace ids.
    assert.equal(config.pino.disableLogSending, true);
    assert.deepEqual(config.express.ignoreLayersType, ['middleware', 'router', 'request_handler']);
  });

  test('creates exactly the five; OTEL_NODE_*_INSTRUMENTATIONS can narrow them, never add', () => {
    assert.deepEqual(created({}), [...ON].sort());
    assert.deepEqual(
      created({ OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'runtime-node' }),
      ON.filter((n) => !n.endsWith('runtime-node')).sort(),
    );
    assert.deepEqual(created({ OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http, fs,dns,net' }), [
      '@opentelemetry/instrumentation-http',
    ]);
    assert.deepEqual(selectInstrumentations({ OTEL_NODE_ENABLED_INSTRUMENTATIONS: ' ' }), [
      ...INSTRUMENTATION_NAMES,
    ]);
  });

  test('the loader hook intercepts the modules the five patch, through registerHooks on Node 26', () => {
    const instrumentations = createInstrumentations({});
    for (const i of instrumentations) i.disable();
    assert.deepEqual(hookedModules(instrumentations).sort(), ['express', 'http', 'https', 'pino']);
    if (Number(process.versions.node.split('.')[0]) >= 26) {
      assert.equal(loaderHookApi(), 'registerHooks');
    }
  });

  test('the tuned package does not load auto-instrumentations-node (the stock mode does)', () => {
    const dir = join(repoRoot, 'services', 'telemetry', 'src');
    for (const file of readdirSync(dir)) {
      assert.doesNotMatch(
        readFileSync(join(dir, file), 'utf8'),
        /from '@opentelemetry\/auto-instrumentations-node/,
        file,
      );
    }
  });
});

describe('rate-limited reporter', () => {
  test('first occurrence at once, repeats counted and summarised after the window', () => {
    let now = 0;
    const lines: ReportLine[] = [];
    const reporter = new RateLimitedReporter({
      windowMs: 60_000,
      now: () => now,
      write: (l) => lines.push(l),
    });
    reporter.report('error', 'export failed: connect ECONNREFUSED 127.0.0.1:4317 (attempt 1)');
    for (let i = 2; i <= 100; i++) {
      now += 500;
      reporter.report('error', `export failed: connect ECONNREFUSED 127.0.0.1:4317 (attempt ${i})`);
    }
    assert.equal(lines.length, 1, 'variable numbers do not defeat the grouping');
    now = 61_000;
    reporter.report('error', 'export failed: connect ECONNREFUSED 127.0.0.1:4317 (attempt 101)');
    assert.equal(lines.length, 2);
    assert.equal(lines[1]?.suppressed, 99);
    reporter.report('warn', 'another problem');
    assert.equal(lines.length, 3);
  });

  test('memory is bounded by the number of distinct messages kept', () => {
    const lines: ReportLine[] = [];
    const reporter = new RateLimitedReporter({
      windowMs: 60_000,
      maxKeys: 3,
      now: () => 0,
      write: (l) => lines.push(l),
    });
    for (const word of ['alpha', 'beta', 'gamma', 'delta', 'alpha']) reporter.report('error', word);
    assert.equal(lines.length, 5, 'alpha was forgotten (oldest) and is reported again');
  });

  test('errorMessage', () => {
    assert.equal(errorMessage(Object.assign(new Error('boom'), { code: 14 })), 'boom (code 14)');
    assert.equal(errorMessage('text'), 'text');
    assert.equal(errorMessage({ a: 1 }), '{"a":1}');
  });
});

describe('problem documents', () => {
  test('RFC 9457 members, path without query, bounded length', () => {
    const req = { url: '/user/abc?token=secret', method: 'GET' } as never;
    assert.deepEqual(problemBody(req, 400, 'bad id'), {
      type: 'about:blank',
      title: 'Bad Request',
      status: 400,
      detail: 'bad id',
      instance: '/user/abc',
    });
    assert.equal(requestPath({ url: `/${'a'.repeat(500)}` } as never).length, 203);
  });

  test('errorStatus keeps client errors, everything else is 500', () => {
    assert.equal(errorStatus({ status: 413 }), 413);
    assert.equal(errorStatus({ statusCode: 400 }), 400);
    assert.equal(errorStatus({ status: 302 }), 500);
    assert.equal(errorStatus(new Error('x')), 500);
    assert.equal(errorStatus(undefined), 500);
  });
});
