// Raw HTTP over a TCP socket, for what a well-behaved client never sends: the HTTP parser's own
// rejections, pipelined requests, malformed bodies. And the pair of services these tests talk to.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { OtlpReceiver } from '../support/otlp-receiver.ts';
import { startService, type ServiceProcess } from '../support/service-process.ts';

export interface Pair {
  receiver: OtlpReceiver;
  userService: ServiceProcess;
  gateway: ServiceProcess;
}

/** Both services, exporting to a receiver of this test process. */
export async function startPair(): Promise<Pair> {
  const receiver = await OtlpReceiver.start();
  const userService = await startService('user-service', {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
  });
  const gateway = await startService('api-gateway', {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    USER_SERVICE_URL: userService.url,
    // As deployed (docker-compose.yaml, values/api-gateway.yaml): the public edge records every
    // request, whatever a client's traceparent asks.
    OTEL_TRACES_SAMPLER: 'always_on',
  });
  return { receiver, userService, gateway };
}

export async function stopPair(pair: Pair | undefined): Promise<void> {
  await Promise.all([pair?.gateway.stop(), pair?.userService.stop()]);
  await pair?.receiver.stop();
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export const asBuffer = (chunk: string | Buffer): Buffer =>
  typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;

/** Sends `request` verbatim and reads the response until the server closes the connection. */
export function raw(port: number, request: string | Buffer): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer within 5 s')));
    // No encoding is set, so every chunk is a Buffer; the typings allow a string too.
    socket.on('data', (chunk) => chunks.push(asBuffer(chunk)));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...headerLines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of headerLines) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') });
    });
    socket.end(request);
  });
}

export function request(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body = '',
): string {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: localhost', 'Connection: close'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  if (body || method === 'PUT' || method === 'POST')
    lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

/** Every response in `text`, in order (framed by content-length, chunked, or the end). */
export function splitResponses(text: string): RawResponse[] {
  const responses: RawResponse[] = [];
  let rest = text;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    assert.ok(end > 0, `an incomplete response head: ${JSON.stringify(rest)}`);
    const [statusLine = '', ...headerLines] = rest.slice(0, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of headerLines) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
    }
    rest = rest.slice(end + 4);
    let body: string;
    if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      body = rest.slice(0, length);
      rest = rest.slice(length);
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const last = rest.indexOf('0\r\n\r\n');
      body = rest.slice(0, last);
      rest = rest.slice(last + 5);
    } else {
      body = rest;
      rest = '';
    }
    responses.push({ status: Number(statusLine.split(' ')[1]), headers, body });
  }
  return responses;
}

/**
 * Sends `requests[0]` without closing our side, each next one once a response to the previous one
 * has arrived, and reads everything the server sends until it closes the connection: a second,
 * unrequested response would show up here.
 */
export function everything(port: number, requests: string[]): Promise<RawResponse[]> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const text = () => Buffer.concat(chunks).toString('latin1');
    let sent = 0;
    const sendNext = () => socket.write(requests[sent++] ?? '');
    socket.setTimeout(5000, () => socket.destroy(new Error('connection still open after 5 s')));
    socket.on('data', (chunk) => {
      chunks.push(asBuffer(chunk));
      if (sent < requests.length) {
        try {
          if (splitResponses(text()).length >= sent) sendNext();
        } catch {
          // the response is not complete yet
        }
      }
    });
    socket.on('error', reject);
    socket.on('close', () => {
      try {
        resolve(splitResponses(text()));
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
    sendNext();
  });
}
