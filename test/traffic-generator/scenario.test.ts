// What the generator requests, and when the incident is on.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dueRequests, incidentPhase, pickRequest } from '@nos/traffic-generator/scenario';
import { seededRandom } from '@nos/user-service/simulated-database';

describe('scenario', () => {
  test('the mix: ~70 % existing users, ~15 % unknown, ~15 % invalid', () => {
    const random = seededRandom(3);
    const counts = { valid: 0, unknown: 0, invalid: 0 };
    let user123 = 0;
    for (let i = 0; i < 10_000; i++) {
      const r = pickRequest(random);
      counts[r.kind] += 1;
      const id = Number(r.path.slice('/user/'.length));
      if (r.kind === 'valid') {
        assert.ok(id >= 1 && id <= 500, r.path);
        if (id === 123) user123 += 1;
      }
      if (r.kind === 'unknown') assert.ok(id > 500, r.path);
      if (r.kind === 'invalid')
        assert.ok(!/^[1-9]\d*$/.test(r.path.slice(6)) || id > 2 ** 31, r.path);
    }
    assert.ok(Math.abs(counts.valid - 7000) < 300, JSON.stringify(counts));
    assert.ok(Math.abs(counts.unknown - 1500) < 200, JSON.stringify(counts));
    assert.ok(Math.abs(counts.invalid - 1500) < 200, JSON.stringify(counts));
    assert.ok(user123 > 2000, 'user 123 is a third of the valid requests');
  });

  test('incident phases are thirds; due requests follow the rate', () => {
    assert.equal(incidentPhase(0, 60_000), 'baseline');
    assert.equal(incidentPhase(19_999, 60_000), 'baseline');
    assert.equal(incidentPhase(20_000, 60_000), 'incident');
    assert.equal(incidentPhase(40_000, 60_000), 'recovery');
    assert.equal(dueRequests(0, 20), 0);
    assert.equal(dueRequests(1000, 20), 20);
    assert.equal(dueRequests(1049, 20), 20);
    assert.equal(dueRequests(1050, 20), 21);
    assert.equal(dueRequests(3000, 0.5), 1);
  });
});
