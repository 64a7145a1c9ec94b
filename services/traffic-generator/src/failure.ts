// Names a failed request for the statistics. Pure.

import { causeChain, firstErrorCode, innermostMessage } from '@nos/fetch-helpers';

/**
 * What went wrong, in one word where there is one: the first error code along the `cause` chain
 * (ECONNREFUSED, UND_ERR_SOCKET...), else the error's name when it says something (TimeoutError),
 * else the innermost message.
 */
export function failureName(error: unknown): string {
  const code = firstErrorCode(error);
  if (code !== undefined) return code;
  const named = causeChain(error)
    .map((link) => (link as { name?: unknown }).name)
    .find((name) => typeof name === 'string' && name !== 'Error' && name !== 'TypeError');
  return (named as string | undefined) ?? innermostMessage(error).slice(0, 80);
}
