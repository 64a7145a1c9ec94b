// api-gateway's configuration from the environment.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig as loadGatewayConfig } from '@nos/api-gateway/config';

describe('api-gateway configuration', () => {
  test('defaults (the suite contract)', () => {
    assert.deepEqual(loadGatewayConfig({}), {
      port: 8080,
      logLevel: 'info',
      userServiceUrl: 'http://localhost:8081',
      userServiceTimeoutMs: 2000,
      shutdownTimeoutMs: 10_000,
      shutdownDelayMs: 0,
    });
  });

  test('from the environment', () => {
    const config = loadGatewayConfig({
      PORT: '9000',
      LOG_LEVEL: 'warn',
      USER_SERVICE_URL: 'http://user-service:8081/',
      USER_SERVICE_TIMEOUT_MS: '500',
      SHUTDOWN_TIMEOUT_MS: '0',
      SHUTDOWN_DELAY_MS: '5000',
    });
    assert.equal(config.port, 9000);
    assert.equal(config.userServiceUrl, 'http://user-service:8081');
    assert.equal(config.userServiceTimeoutMs, 500);
    assert.equal(config.shutdownTimeoutMs, 0);
    assert.equal(config.shutdownDelayMs, 5000);
  });

  test('invalid values name their variable', () => {
    assert.throws(() => loadGatewayConfig({ PORT: 'http' }), /PORT must be a TCP port/);
    assert.throws(
      () => loadGatewayConfig({ USER_SERVICE_TIMEOUT_MS: '0' }),
      /USER_SERVICE_TIMEOUT_MS must be an integer between 1 and 60000/,
    );
    assert.throws(
      () => loadGatewayConfig({ USER_SERVICE_URL: 'localhost:8081' }),
      /USER_SERVICE_URL/,
    );
  });
});
