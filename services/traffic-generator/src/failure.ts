// Names a failed request for the statistics. Pure.

/**
 * What went wrong, in one word where there is one: the first error code along the `cause` chain
 * (ECONNREFUSED, UND_ERR_SOCKET...), else the error's name when it says something (TimeoutError),
 * else the innermost message.
 */
export function failureName(error: unknown): string {
  let current: unknown = error;
  let named: string | undefined;
  let message = String(error);
  for (let i = 0; i < 5 && current; i++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const name = (current as { name?: unknown }).name;
    if (typeof name === 'string' && name !== 'Error' && name !== 'TypeError') named ??= name;
    if (current instanceof Error) message = current.message;
    current = (current as { cause?: unknown }).cause;
  }
  return named ?? message.slice(0, 80);
}
