// Malformed or hostile input: every case gets its 4xx (never a 5xx, never a crash), as an RFC 9457
// problem document wherever the request reaches the application. Raw requests go over a plain TCP
// socket so the HTTP parser's own rejections are covered too.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { OtlpReceiver, SpanKind } from '../support/otlp-receiver.ts';
import { startService, type ServiceProcess } from '../support/service-process.ts';

let receiver: OtlpReceiver;
let userService: ServiceProcess;
let gateway: ServiceProcess;

before(async () => {
  receiver = await OtlpReceiver.start();
  userService = await startService('user-service', {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
  });
  gateway = await startService('api-gateway', {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    USER_SERVICE_URL: userService.url,
    // As deployed (docker-compose.yaml, values/api-gateway.yaml): the public edge records every
    // request, whatever a client's traceparent asks.
    OTEL_TRACES_SAMPLER: 'always_on',
  });
});

after(async () => {
  await Promise.all([gateway?.stop(), userService?.stop()]);
  await receiver?.stop();
});

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const asBuffer = (chunk: string | Buffer): Buffer =>
  typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;

/** Sends `request` verbatim and reads the response until the server closes the connection. */
function raw(port: number, request: string | Buffer): Promise<RawResponse> {
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

function request(
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

interface Case {
  name: string;
  send: string;
  status: number;
  /** The application answered (not the HTTP parser): full problem document expected. */
  problem?: boolean;
  detail?: RegExp;
}

const big = 'x'.repeat(20 * 1024);

const gatewayCases: Case[] = [
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

const json = (body: string, extra: Record<string, string> = {}) =>
  request('PUT', '/admin/faults', { 'content-type': 'application/json', ...extra }, body);

const userServiceCases: Case[] = [
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

function check(c: Case, response: RawResponse): void {
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

describe('api-gateway rejects bad input with a 4xx', () => {
  for (const c of gatewayCases) test(c.name, async () => check(c, await raw(gateway.port, c.send)));
});

describe('user-service rejects bad input with a 4xx', () => {
  for (const c of userServiceCases)
    test(c.name, async () => check(c, await raw(userService.port, c.send)));
});

/** Every response in `text`, in order (framed by content-length, chunked, or the end). */
function splitResponses(text: string): RawResponse[] {
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
function everything(port: number, requests: string[]): Promise<RawResponse[]> {
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

describe('a request answered before its body fails to parse gets that one answer', () => {
  // The route answers 405 as soon as the head arrives; the body that follows is malformed.
  const head = 'POST /user/123 HTTP/1.1\r\nHost: x\r\n';
  const cases = {
    'malformed chunk size': `${head}Transfer-Encoding: chunked\r\n\r\nZZZ\r\nhello\r\n0\r\n\r\n`,
    'oversized chunk size': `${head}Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFF\r\nhello\r\n0\r\n\r\n`,
    'unknown transfer coding': `${head}Transfer-Encoding: foo\r\n\r\nhello`,
  };
  for (const [name, send] of Object.entries(cases)) {
    test(name, async () => {
      const responses = await everything(gateway.port, [send]);
      assert.deepEqual(
        responses.map((r) => r.status),
        [405],
        `exactly one response: ${JSON.stringify(responses)}`,
      );
      assert.match(responses[0]?.headers['content-type'] ?? '', /^application\/problem\+json/);
    });
  }

  test('a malformed request after a completed exchange still gets its 400', async () => {
    const responses = await everything(gateway.port, [
      'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /healthz HTTP/1.1\r\nHost: x\r\nbad header: x\r\n\r\n',
    ]);
    assert.deepEqual(
      responses.map((r) => r.status),
      [200, 400],
    );
    assert.match(responses[1]?.headers['content-type'] ?? '', /^application\/problem\+json/);
  });
});

describe('every request the parser accepted gets its own answer, whatever follows it', () => {
  // All bytes are written at once, as a pipelining client or an attacker would. Each case tags its
  // requests with a query string, to find their server spans.
  const get = (tag: string, headers = '') =>
    `GET /user/123?case=${tag} HTTP/1.1\r\nHost: x\r\n${headers}\r\n`;
  const cases: { name: string; tag: string; send: string; statuses: number[] }[] = [
    {
      // RFC 9112 section 9.6: answer the request with close, process nothing after it.
      name: 'a request with Connection: close, then garbage',
      tag: 'close',
      send: `${get('close', 'Connection: close\r\n')}GARBAGE\r\n\r\n`,
      statuses: [200],
    },
    {
      name: 'a complete request (Content-Length: 0), then bytes that are no request',
      tag: 'length0',
      send: `${get('length0', 'Content-Length: 0\r\n')}XYZ`,
      statuses: [200, 400],
    },
    {
      name: 'a GET, then a POST whose chunked body is malformed (answered 405 before its body)',
      tag: 'pipelined',
      send:
        get('pipelined') +
        'POST /user/123?case=pipelined HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n' +
        'ZZZ\r\nhello\r\n0\r\n\r\n',
      statuses: [200, 405],
    },
  ];
  for (const c of cases) {
    test(`${c.name}: answers ${c.statuses.join(', ')}, and the spans record those answers`, async () => {
      const responses = await everything(gateway.port, [c.send]);
      assert.deepEqual(
        responses.map((r) => r.status),
        c.statuses,
        `the answers: ${JSON.stringify(responses.map((r) => [r.status, r.body]))}`,
      );
      for (const r of responses) {
        assert.match(r.headers['content-type'] ?? '', /^application\/(problem\+)?json/);
      }
      // The answers the application gave (with a traceresponse) are those its spans record.
      const answered = responses.filter((r) => r.headers.traceresponse);
      const spans = await receiver.waitFor(
        () => {
          const found = receiver.spans.filter(
            (span) =>
              span.kind === SpanKind.SERVER &&
              span.resource['service.name'] === 'api-gateway' &&
              span.attributes['url.query'] === `case=${c.tag}`,
          );
          return found.length >= answered.length ? found : undefined;
        },
        { what: `the server spans of case ${c.tag}` },
      );
      assert.deepEqual(
        spans.map((span) => span.attributes['http.response.status_code']).sort(),
        answered.map((r) => r.status).sort(),
      );
      for (const r of answered) {
        const traceId = r.headers.traceresponse?.split('-')[1];
        const completed = () =>
          gateway.records.filter(
            (record) => record.trace_id === traceId && record.msg === 'request completed',
          );
        // stdout is read on its own schedule.
        const logged = await receiver.waitFor(() => completed().length > 0 && completed(), {
          what: `the access log of ${traceId}`,
        });
        assert.deepEqual(
          logged.map((record) => record['http.response.status_code']),
          [r.status],
          `the access log of ${traceId}`,
        );
      }
    });
  }

  test('a GET, then a PUT whose chunked body is malformed: 200, then the PUT its 400', async () => {
    const responses = await everything(userService.port, [
      'GET /users/123 HTTP/1.1\r\nHost: x\r\n\r\n' +
        'PUT /admin/faults HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
        'Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n',
    ]);
    assert.deepEqual(
      responses.map((r) => r.status),
      [200, 400],
    );
    const put = responses[1];
    assert.match(put?.headers['content-type'] ?? '', /^application\/problem\+json/);
    // The 400 is the PUT's own response: its access log says so.
    const traceId = put?.headers.traceresponse?.split('-')[1];
    assert.ok(traceId, "the 400 carries the PUT request's traceresponse");
    await receiver.waitFor(() =>
      userService.records.some(
        (record) => record.trace_id === traceId && record.msg === 'request completed',
      ),
    );
    const logged = userService.records.filter(
      (record) => record.trace_id === traceId && record.msg === 'request completed',
    );
    assert.deepEqual(
      logged.map((record) => record['http.response.status_code']),
      [400],
    );
  });
});

describe('after the bad input', () => {
  test('405 lists the allowed methods', async () => {
    const response = await raw(gateway.port, request('DELETE', '/user/1'));
    assert.equal(response.headers.allow, 'GET');
  });

  test('HTTP/1.1 without Host: a SERVER span and a traceId, but no traceresponse', async () => {
    const response = await raw(
      gateway.port,
      'GET /user/123?case=nohost HTTP/1.1\r\nConnection: close\r\n\r\n',
    );
    assert.equal(response.status, 400);
    assert.equal(response.headers.traceresponse, undefined);
    const traceId = (JSON.parse(response.body) as { traceId?: string }).traceId;
    assert.match(traceId ?? '', /^[0-9a-f]{32}$/);
    const span = await receiver.waitFor(() =>
      receiver.spans.find((x) => x.traceId === traceId && x.kind === SpanKind.SERVER),
    );
    assert.equal(span.attributes['http.response.status_code'], 400);
  });

  test("a client's traceparent with sampled=0 does not switch tracing off at the edge", async () => {
    const clientTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const response = await fetch(`${gateway.url}/user/123`, {
      headers: { traceparent: `00-${clientTrace}-00f067aa0ba902b7-00` },
    });
    assert.equal(response.status, 200);
    // Recorded (flags 01) in the client's trace, which a tracing front end can look up.
    assert.match(
      response.headers.get('traceresponse') ?? '',
      new RegExp(`^00-${clientTrace}-[0-9a-f]{16}-01$`),
    );
    const spans = await receiver.waitFor(() => {
      const found = receiver.spans.filter((s) => s.traceId === clientTrace);
      return new Set(found.map((s) => s.resource['service.name'])).size === 2 ? found : undefined;
    });
    assert.ok(
      spans.some(
        (s) => s.kind === SpanKind.SERVER && s.resource['service.name'] === 'user-service',
      ),
    );
  });

  test('HTTP/1.0 needs no Host header', async () => {
    const response = await raw(gateway.port, 'GET /healthz HTTP/1.0\r\n\r\n');
    assert.equal(response.status, 200);
  });

  test('hostile trace headers are ignored, not trusted or fatal', async () => {
    const response = await fetch(`${gateway.url}/user/123`, {
      headers: {
        traceparent: '00-zzzz-yyyy-01',
        tracestate: big.slice(0, 1000),
        baggage: '%%%;;==',
      },
    });
    assert.equal(response.status, 200);
    assert.doesNotMatch(response.headers.get('traceresponse') ?? '', /zzzz/);
  });

  test('both services are still healthy, answered no 5xx and logged no error', async () => {
    for (const s of [gateway, userService]) {
      assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
      assert.equal(s.npm.exitCode, null);
      const serverErrors = s.records.filter(
        (r) => Number(r['http.response.status_code']) >= 500 || r.level >= 50,
      );
      assert.deepEqual(serverErrors, [], `${s.name} logged server errors`);
    }
    // Faults were never switched on by the rejected bodies.
    assert.deepEqual(await (await fetch(`${userService.url}/admin/faults`)).json(), {
      errorRate: 0,
      latencyMs: 0,
    });
  });
});
