// The responses a server has not finished yet, so a shutdown can wait for them and tell them to
// close their connections.

import type { Server, ServerResponse } from 'node:http';
import type { Readiness } from './routes.ts';

export class InFlight {
  readonly #responses = new Set<ServerResponse>();

  /** Tracks every request of `server` from now on; once stopping, each closes its connection. */
  constructor(server: Server, readiness: Readiness) {
    server.on('request', (_req, res: ServerResponse) => {
      this.#responses.add(res);
      res.once('close', () => this.#responses.delete(res));
      if (readiness.state === 'stopping') res.shouldKeepAlive = false;
    });
  }

  get size(): number {
    return this.#responses.size;
  }

  /** Responses not started yet end with `connection: close`. */
  closeConnectionsAfterResponse(): void {
    for (const res of this.#responses) if (!res.headersSent) res.shouldKeepAlive = false;
  }
}
