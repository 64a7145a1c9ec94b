// The gateway's client for user-service: every answer and failure mapped to one outcome.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { interpretFailure, interpretResponse, MAX_BODY_BYTES } from '@nos/api-gateway/user-client';
import { isUser } from '@nos/service-kit';

describe('gateway: user-service answers to outcomes', () => {
  const user = { id: 123, name: 'Ada Lovelace', email: 'ada@example.com' };

  test('200 with a user document: found, only the documented fields', () => {
    assert.deepEqual(interpretResponse(200, JSON.stringify({ ...user, password: 'x' })), {
      outcome: 'found',
      user,
    });
  });

  test('404: not_found', () =>
    assert.deepEqual(interpretResponse(404, '{}'), { outcome: 'not_found' }));

  for (const status of [500, 503, 400, 401, 302, 201]) {
    test(`${status}: upstream_error`, () => {
      const result = interpretResponse(status, '');
      assert.equal(result.outcome, 'upstream_error');
      assert.match((result as { detail: string }).detail, new RegExp(`HTTP ${status}`));
    });
  }

  for (const [name, body] of [
    ['not JSON', '<html>'],
    ['empty', ''],
    ['array', '[]'],
    ['wrong types', '{"id":"123","name":"x","email":"y"}'],
    ['missing field', '{"id":123,"name":"x"}'],
    ['unsafe id', '{"id":1e300,"name":"x","email":"y"}'],
  ] as const) {
    test(`200 with ${name}: upstream_error`, () =>
      assert.equal(interpretResponse(200, body).outcome, 'upstream_error'));
  }

  test('isUser', () => {
    assert.equal(isUser(user), true);
    assert.equal(isUser(null), false);
    assert.equal(isUser({ ...user, id: 1.5 }), false);
  });

  test('failures: timeout vs refused vs other', () => {
    const timeout = Object.assign(new Error('no answer within 2000 ms'), { name: 'TimeoutError' });
    assert.deepEqual(interpretFailure(timeout, 'http://u:8081', 2000), {
      outcome: 'timeout',
      detail: 'user-service did not answer within 2000 ms',
    });
    const refused = new TypeError('fetch failed', {
      cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }),
    });
    assert.deepEqual(interpretFailure(refused, 'http://u:8081', 2000), {
      outcome: 'upstream_error',
      detail: 'user-service unreachable at http://u:8081 (ECONNREFUSED)',
    });
    const dns = new TypeError('fetch failed', {
      cause: Object.assign(new Error('getaddrinfo'), { code: 'ENOTFOUND' }),
    });
    assert.match(
      (interpretFailure(dns, 'http://nope:1', 1) as { detail: string }).detail,
      /ENOTFOUND/,
    );
    assert.match(
      (interpretFailure(new Error('odd'), 'http://x', 1) as { detail: string }).detail,
      /odd/,
    );
    assert.ok(MAX_BODY_BYTES >= 1024);
  });
});
