// The HTTP server a service runs its app on: Node's answers to a missing Host and to an unknown
// Expect are bare, and to CONNECT silence; malformed requests never reach the app. With these
// listeners every one of them gets a problem document.

import { createServer, type RequestListener, type Server } from 'node:http';
import type { Logger } from '@nos/telemetry';
import { handleClientError, trackExchange } from './parser-errors.ts';
import { rejectConnect, rejectExpectation, requireHostHeader } from './protocol-guards.ts';

export function createHardenedServer(app: RequestListener, logger: Logger): Server {
  const server = createServer({ requireHostHeader: false }, requireHostHeader(app));
  server.on('checkExpectation', rejectExpectation);
  server.on('connect', rejectConnect);
  server.on('request', trackExchange);
  server.on('clientError', handleClientError(logger));
  return server;
}
