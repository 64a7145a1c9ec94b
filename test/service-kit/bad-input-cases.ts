// The bad inputs each service must answer with a 4xx problem document, and the check of one answer.

import assert from 'node:assert/strict';
import { request, type RawResponse } from './raw-http.ts';

export interface Case {
  name: string;
  send: string;
  status: number;
  /** The application answered (not the HTTP parser): full problem document expected. */
  problem?: boolean;
  detail?: RegExp;
}

export const big = 'x'.repeat(20 * 1024);

export const gatewayCases: Case[] = [
  // Invalid ids
  ...[
    'abc',
    '0',
    '-1',
    '1.5',
    '1e3',
    '0123',
    '+5',
    '0x1F',
    '2147483648',
    '99999999999999999999',
    '%20123',
    '12%00',
    'null',
  ].map((id) => ({
    name: `id ${id}`,
    send: request('GET', `/user/${id}`),
    status: 400,
    problem: true,
    detail: /integer between 1 and 2147483647/,
  })),
  // Broken percent-encoding in the path
  {
    name: 'truncated percent-encoding',
    send: request('GET', '/user/%E0%A4%A'),
    status: 400,
    problem: true,
  },
  {
    name: 'percent-encoded invalid UTF-8',
    send: request('GET', '/user/%FF'),
    status: 400,
    problem: true,
  },
  // Unknown paths
  {
    name: 'no id',
    send: request('GET', '/user/'),
    status: 404,
    problem: true,
    detail: /no route for GET \/user\//,
  },
  { name: 'extra segment', send: request('GET', '/user/123/extra'), status: 404, problem: true },
  { name: 'unknown path', send: request('GET', '/nope'), status: 404, problem: true },
  { name: 'path traversal', send: request('GET', '/../../etc/passwd'), status: 404, problem: true },
  {
    name: 'encoded traversal',
    send: request('GET', '/%2e%2e/%2e%2e/etc/passwd'),
    status: 404,
    problem: true,
  },
  {
    name: 'plural route of the internal service',
    send: request('GET', '/users/123'),
    status: 404,
    problem: true,
  },
  // Methods
  {
    name: 'POST on /user/:id',
    send: request('POST', '/user/123', { 'content-type': 'application/json' }, '{"a":1}'),
    status: 405,
    problem: true,
  },
  { name: 'DELETE on /user/:id', send: request('DELETE', '/user/123'), status: 405, problem: true },
  { name: 'PUT on /healthz', send: request('PUT', '/healthz'), status: 404, problem: true },
  { name: 'unknown method', send: request('FOO', '/user/123'), status: 400 },
  // Oversized and malformed headers, bodies and framing (rejected by the HTTP parser)
  { name: '20 KB URL', send: request('GET', `/user/${big}`), status: 431 },
  { name: '20 KB header', send: request('GET', '/user/123', { cookie: big }), status: 431 },
  {
    name: 'invalid header name',
    send: request('GET', '/user/123', { 'bad header': 'x' }),
    status: 400,
  },
  {
    name: 'control character in a header value',
    send: request('GET', '/user/123', { 'x-test': 'a\u0001b' }),
    status: 400,
  },
  {
    name: 'non-numeric Content-Length',
    send: 'GET /user/123 HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
    status: 400,
  },
  {
    name: 'Content-Length with Transfer-Encoding (request smuggling)',
    send: 'POST /user/123 HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    status: 400,
  },
  { name: 'not HTTP at all', send: 'hello there\r\n\r\n', status: 400 },
  // Answered by Node before any listener unless the server asks otherwise (serve.ts)
  {
    name: 'HTTP/1.1 without Host',
    send: 'GET /user/123 HTTP/1.1\r\nConnection: close\r\n\r\n',
    status: 400,
    detail: /Host header/,
  },
  {
    name: 'CONNECT (this is no proxy)',
    send: 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n',
    status: 405,
    detail: /not a proxy/,
  },
  {
    name: 'Expect other than 100-continue',
    send: request('GET', '/user/123', { expect: 'teapot' }),
    status: 417,
    detail: /unsupported Expect: teapot/,
  },
  {
    name: 'unsupported HTTP version',
    send: 'GET /user/123 HTTP/7.0\r\nHost: x\r\n\r\n',
    status: 400,
  },
];

export const json = (body: string, extra: Record<string, string> = {}) =>
  request('PUT', '/admin/faults', { 'content-type': 'application/json', ...extra }, body);

export const userServiceCases: Case[] = [
  { name: 'invalid id', send: request('GET', '/users/abc'), status: 400, problem: true },
  { name: 'faults: malformed JSON', send: json('{"errorRate":'), status: 400, problem: true },
  { name: 'faults: JSON null', send: json('null'), status: 400, problem: true },
  { name: 'faults: array', send: json('[1]'), status: 400, problem: true, detail: /JSON object/ },
  {
    name: 'faults: errorRate > 1',
    send: json('{"errorRate":2}'),
    status: 400,
    problem: true,
    detail: /errorRate must be a number between 0 and 1/,
  },
  {
    name: 'faults: errorRate string',
    send: json('{"errorRate":"0.5"}'),
    status: 400,
    problem: true,
  },
  {
    name: 'faults: negative latency',
    send: json('{"latencyMs":-1}'),
    status: 400,
    problem: true,
    detail: /latencyMs/,
  },
  {
    name: 'faults: fractional latency',
    send: json('{"latencyMs":1.5}'),
    status: 400,
    problem: true,
  },
  {
    name: 'faults: latency too large',
    send: json('{"latencyMs":600000}'),
    status: 400,
    problem: true,
  },
  {
    name: 'faults: unknown field',
    send: json('{"errorrate":0.5}'),
    status: 400,
    problem: true,
    detail: /unknown field "errorrate"/,
  },
  {
    name: 'faults: not JSON',
    send: request('PUT', '/admin/faults', { 'content-type': 'text/plain' }, 'errorRate=1'),
    status: 415,
    problem: true,
  },
  {
    name: 'faults: no content type',
    send: request('PUT', '/admin/faults', {}, '{"errorRate":1}'),
    status: 415,
    problem: true,
  },
  {
    name: 'faults: 2 KB body',
    send: json(`{"errorRate":0,"pad":"${'x'.repeat(2048)}"}`),
    status: 413,
    problem: true,
  },
  {
    name: 'faults: unsupported charset',
    send: json('{"errorRate":0}', { 'content-type': 'application/json; charset=latin1' }),
    status: 415,
    problem: true,
  },
  {
    name: 'faults: unsupported content-encoding',
    send: json('{"errorRate":0}', { 'content-encoding': 'x-unknown' }),
    status: 415,
    problem: true,
  },
  {
    name: 'faults: broken chunked body',
    send: 'PUT /admin/faults HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n',
    status: 400,
  },
  {
    name: 'faults: POST',
    send: request('POST', '/admin/faults', { 'content-type': 'application/json' }, '{}'),
    status: 405,
    problem: true,
  },
];

export function check(c: Case, response: RawResponse): void {
  assert.equal(
    response.status,
    c.status,
    `${c.name}: status (body ${response.body.slice(0, 200)})`,
  );
  assert.match(
    response.headers['content-type'] ?? '',
    /^application\/problem\+json/,
    `${c.name}: content type`,
  );
  const problem = JSON.parse(response.body) as Record<string, unknown>;
  assert.equal(problem.status, c.status);
  assert.equal(typeof problem.title, 'string');
  assert.equal(typeof problem.detail, 'string');
  if (c.detail) assert.match(String(problem.detail), c.detail);
  if (c.problem) {
    assert.equal(problem.type, 'about:blank');
    assert.equal(typeof problem.instance, 'string');
    assert.match(response.headers.traceresponse ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
  }
}
