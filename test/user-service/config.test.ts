// user-service's configuration from the environment.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig as loadUserServiceConfig } from '@nos/user-service/config';

describe('user-service configuration', () => {
  test('defaults (the suite contract)', () => {
    assert.deepEqual(loadUserServiceConfig({}), {
      port: 8081,
      logLevel: 'info',
      shutdownTimeoutMs: 10_000,
      shutdownDelayMs: 0,
      dbLatencyMs: 5,
    });
  });

  test('invalid values name their variable', () => {
    assert.throws(
      () => loadUserServiceConfig({ DB_LATENCY_MS: '-1' }),
      /DB_LATENCY_MS must be an integer between 0 and 10000/,
    );
    assert.throws(() => loadUserServiceConfig({ SHUTDOWN_DELAY_MS: '1m' }), /SHUTDOWN_DELAY_MS/);
  });
});
