// Step 2 and 3 of a graceful shutdown: stop accepting connections, then let in-flight requests
// finish, within a bound.

import type { Server } from 'node:http';
import type { InFlight } from './in-flight.ts';
import { withTimeout } from './with-timeout.ts';

/**
 * Closes the listener and idle keep-alive connections, and waits for in-flight responses (sent with
 * `connection: close`). True when all finished within `timeoutMs`; otherwise `onTimeout` runs, the
 * remaining connections are cut, and the result is false.
 */
export async function drain(
  server: Server,
  inFlight: InFlight,
  timeoutMs: number,
  onTimeout: () => void,
): Promise<boolean> {
  inFlight.closeConnectionsAfterResponse();
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  // Keep-alive connections become idle as their last response completes.
  const sweeper = setInterval(() => server.closeIdleConnections(), 50);
  const drained = await withTimeout(closed, timeoutMs);
  clearInterval(sweeper);
  if (!drained) {
    onTimeout();
    server.closeAllConnections();
  }
  return drained;
}
