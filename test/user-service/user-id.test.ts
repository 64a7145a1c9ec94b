// The user id rule: user-service states it for its API, the gateway states the same for its own.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as gateway from '@nos/api-gateway/user-id';
import * as userService from '@nos/user-service/user-id';

/** Both services' answer for `raw`; they must agree. */
function parseUserId(raw: string): number | undefined {
  const answer = userService.parseUserId(raw);
  assert.equal(gateway.parseUserId(raw), answer, `the gateway agrees on ${JSON.stringify(raw)}`);
  return answer;
}

describe('user id validation (the same rule in both services)', () => {
  test('both services explain a bad id alike', () => {
    assert.equal(gateway.invalidUserIdDetail, userService.invalidUserIdDetail);
    assert.equal(
      userService.invalidUserIdDetail,
      'user id must be an integer between 1 and 2147483647',
    );
  });

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
