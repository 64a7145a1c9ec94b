// Domain logic of the two services: id validation, the gateway's mapping of user-service answers,
// fault settings, the seeded table.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  interpretFailure,
  interpretResponse,
  isUser,
  MAX_BODY_BYTES,
} from '../../services/api-gateway/src/user-client.ts';
import { parseUserId } from '../../services/telemetry/src/user-id.ts';
import {
  Faults,
  MAX_FAULT_LATENCY_MS,
  parseFaultSettings,
} from '../../services/user-service/src/faults.ts';
import { seededRandom, seedUsers, USER_COUNT } from '../../services/user-service/src/users.ts';

describe('user id validation (shared by both services)', () => {
  const valid = [
    ['1', 1],
    ['123', 123],
    ['999', 999],
    ['2147483647', 2147483647],
  ] as const;
  const invalid = [
    '',
    '0',
    '-1',
    '1.5',
    '1e3',
    '0123',
    '+5',
    ' 5',
    '5 ',
    '0x1F',
    'abc',
    '12abc',
    '2147483648',
    '99999999999999999999',
    'NaN',
    '١٢٣',
  ];
  for (const [raw, id] of valid)
    test(`${raw} is user ${id}`, () => assert.equal(parseUserId(raw), id));
  for (const raw of invalid)
    test(`${JSON.stringify(raw)} is invalid`, () => assert.equal(parseUserId(raw), undefined));
});

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

describe('fault settings', () => {
  test('valid bodies; omitted fields are 0 (PUT replaces)', () => {
    assert.deepEqual(parseFaultSettings({ errorRate: 0.25, latencyMs: 200 }), {
      ok: true,
      value: { errorRate: 0.25, latencyMs: 200 },
    });
    assert.deepEqual(parseFaultSettings({ errorRate: 1 }), {
      ok: true,
      value: { errorRate: 1, latencyMs: 0 },
    });
    assert.deepEqual(parseFaultSettings({}), { ok: true, value: { errorRate: 0, latencyMs: 0 } });
    assert.deepEqual(parseFaultSettings({ latencyMs: MAX_FAULT_LATENCY_MS }), {
      ok: true,
      value: { errorRate: 0, latencyMs: MAX_FAULT_LATENCY_MS },
    });
  });

  for (const [name, body, message] of [
    ['null', null, /JSON object/],
    ['array', [0.5], /JSON object/],
    ['string', 'x', /JSON object/],
    ['errorRate > 1', { errorRate: 1.01 }, /errorRate/],
    ['errorRate < 0', { errorRate: -0.1 }, /errorRate/],
    ['errorRate NaN-ish', { errorRate: '0.5' }, /errorRate/],
    ['latency fraction', { latencyMs: 0.5 }, /latencyMs/],
    ['latency negative', { latencyMs: -1 }, /latencyMs/],
    ['latency too large', { latencyMs: MAX_FAULT_LATENCY_MS + 1 }, /latencyMs/],
    ['unknown field', { errorRate: 0.5, extra: true }, /unknown field "extra"/],
  ] as const) {
    test(`rejects ${name}`, () => {
      const result = parseFaultSettings(body);
      assert.equal(result.ok, false);
      assert.match((result as { errors: string[] }).errors.join('; '), message);
    });
  }

  test('every problem is reported at once', () => {
    const result = parseFaultSettings({ errorRate: 2, latencyMs: -1, typo: 1 });
    assert.equal(result.ok, false);
    assert.equal((result as { errors: string[] }).errors.length, 3);
  });

  test('errorRate is a probability; set/reset at run time', () => {
    const draws = [0.1, 0.5, 0.9];
    let i = 0;
    const faults = new Faults(() => draws[i++ % draws.length] ?? 0);
    assert.equal(faults.active, false);
    assert.equal(faults.shouldFail(), false, 'errorRate 0 never fails');
    faults.set({ errorRate: 0.5, latencyMs: 10 });
    assert.equal(faults.active, true);
    assert.deepEqual(
      [faults.shouldFail(), faults.shouldFail(), faults.shouldFail()],
      [true, false, false],
    );
    faults.set({ errorRate: 1, latencyMs: 0 });
    assert.ok(
      [1, 2, 3].every(() => faults.shouldFail()),
      'errorRate 1 always fails',
    );
    faults.reset();
    assert.deepEqual(faults.settings, { errorRate: 0, latencyMs: 0 });
    const copy = faults.settings;
    copy.errorRate = 1;
    assert.equal(faults.settings.errorRate, 0, 'settings are returned by value');
  });
});

describe('seeded users table', () => {
  test('deterministic, 123 exists, 999 does not', () => {
    const a = seedUsers();
    const b = seedUsers();
    assert.equal(a.size, USER_COUNT);
    assert.deepEqual([...a.values()], [...b.values()]);
    assert.ok(a.get(123));
    assert.equal(a.get(999), undefined);
    for (const user of a.values()) {
      assert.match(user.email, /^[a-z0-9.-]+@example\.com$/);
      assert.ok(user.name.includes(' '));
    }
  });

  test('seededRandom is reproducible and in [0, 1)', () => {
    const r1 = seededRandom(7);
    const r2 = seededRandom(7);
    for (let i = 0; i < 1000; i++) {
      const v = r1();
      assert.equal(v, r2());
      assert.ok(v >= 0 && v < 1);
    }
  });
});
