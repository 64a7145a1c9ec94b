// Run-time fault injection: the PUT body's validation and the settings' effect.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Faults, MAX_FAULT_LATENCY_MS, parseFaultSettings } from '@nos/user-service/faults';

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
