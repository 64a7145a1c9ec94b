// The simulated database's seeded table.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { seededRandom, seedUsers, USER_COUNT } from '@nos/user-service/simulated-database';

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
