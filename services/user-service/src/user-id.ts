// The user id rule of user-service's API: a bad id is rejected before any query, whatever the
// caller checked.

import { parseStrictInt } from '@nos/service-kit';

export const MAX_USER_ID = 2_147_483_647;

/** A user id is a canonical decimal integer in 1..2^31-1: no sign, leading zeros, spaces, exponent. */
export function parseUserId(raw: string): number | undefined {
  return parseStrictInt(raw, 1, MAX_USER_ID);
}

/** The `detail` of the 400 problem document for an invalid id. */
export const invalidUserIdDetail = `user id must be an integer between 1 and ${MAX_USER_ID}`;
