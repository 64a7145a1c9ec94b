// Bounding a wait at shutdown: a step that hangs must not keep the process from exiting.

/** Resolves true when `promise` settles in time, false on timeout or rejection (reported). Never rejects. */
export function withTimeout(
  promise: Promise<unknown>,
  ms: number,
  onError: (error: unknown) => void = () => {},
): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const settled = promise.then(
    () => true,
    (error: unknown) => {
      onError(error);
      return false;
    },
  );
  return Promise.race([settled, timeout]).finally(() => clearTimeout(timer));
}
