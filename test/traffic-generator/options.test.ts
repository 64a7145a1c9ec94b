// The generator's options: command line over environment, and the errors they give.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseOptions, UsageError } from '@nos/traffic-generator/options';

describe('options', () => {
  test('defaults', () => {
    const o = parseOptions([], {});
    assert.equal(o.rate, 10);
    assert.equal(o.duration, 60);
    assert.equal(o.scenario, 'mixed');
    assert.equal(o.gatewayUrl, 'http://localhost:8080');
    assert.equal(o.userServiceUrl, 'http://localhost:8081');
  });

  test('command line wins over the environment', () => {
    const env = {
      TRAFFIC_RATE: '5',
      TRAFFIC_SCENARIO: 'incident',
      GATEWAY_URL: 'http://api-gateway:8080/',
      TRAFFIC_DURATION: '30',
    };
    const fromEnv = parseOptions([], env);
    assert.equal(fromEnv.rate, 5);
    assert.equal(fromEnv.scenario, 'incident');
    assert.equal(fromEnv.gatewayUrl, 'http://api-gateway:8080');
    const o = parseOptions(
      ['--rate', '20', '--duration', '90', '--scenario', 'mixed', '--error-rate', '1'],
      env,
    );
    assert.equal(o.rate, 20);
    assert.equal(o.duration, 90);
    assert.equal(o.scenario, 'mixed');
    assert.equal(o.errorRate, 1);
  });

  for (const [argv, message] of [
    [['--rate', '0'], /--rate must be a number between 0.1 and 10000/],
    [['--rate', 'fast'], /--rate/],
    [['--scenario', 'chaos'], /mixed or incident/],
    [['--error-rate', '2'], /--error-rate/],
    [['--latency-ms', '1.5'], /--latency-ms must be an integer/],
    [['--gateway-url', 'localhost:8080'], /--gateway-url must be an http\(s\) URL/],
    [['--scenario', 'incident', '--duration', '0'], /needs a --duration/],
    [['--bogus'], /Unknown option '--bogus'/],
    [['extra'], /positional/],
  ] as const) {
    test(`rejects ${argv.join(' ')}`, () =>
      assert.throws(
        () => parseOptions(argv, {}),
        (e: Error) => e instanceof UsageError && message.test(e.message),
      ));
  }
});
