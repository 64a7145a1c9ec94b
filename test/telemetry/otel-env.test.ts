// The preload's reading of the environment: the project's OTEL_* defaults, the attribute value
// length limit the logger applies, the switches (OTEL_SDK_DISABLED, OTEL_LOGS_EXPORTER, LOG_EXPORT)
// and the log transport's batch settings.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { batchLogProcessorConfig, truncateFields } from '@nos/telemetry/logger';
import {
  OTEL_ENV_DEFAULTS,
  logAttributeValueLengthLimit,
  logExport,
  logsExportEnabled,
  missingOtelDefaults,
  sdkDisabled,
} from '@nos/telemetry/otel-env';

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
