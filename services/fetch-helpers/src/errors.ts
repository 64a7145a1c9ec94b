// Naming a failure from its `cause` chain (fetch wraps the socket's error: "fetch failed" caused by
// ECONNREFUSED).

/** How deep a chain is followed: cycles and pathological chains end there. */
const MAX_DEPTH = 5;

/** The error followed by its causes, outermost first. */
export function causeChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  let current = error;
  for (let depth = 0; depth < MAX_DEPTH && current; depth++) {
    chain.push(current);
    current = (current as { cause?: unknown }).cause;
  }
  return chain;
}

/** The first string `code` along the chain (ECONNREFUSED, ENOTFOUND, UND_ERR_SOCKET...). */
export function firstErrorCode(error: unknown): string | undefined {
  for (const link of causeChain(error)) {
    const code = (link as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** The message of the innermost Error along the chain; `String(error)` when there is none. */
export function innermostMessage(error: unknown): string {
  const errors = causeChain(error).filter((link) => link instanceof Error);
  return errors.at(-1)?.message ?? String(error);
}
