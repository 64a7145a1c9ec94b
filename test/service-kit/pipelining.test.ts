// Pipelined and half-parsed requests: every request the HTTP parser accepted gets its own answer, in
// order, whatever malformed bytes follow it on the connection; nothing unrequested is sent.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SpanKind, type OtlpReceiver } from '../support/otlp-receiver.ts';
import type { ServiceProcess } from '../support/service-process.ts';
import { everything, startPair, stopPair, type Pair } from './raw-http.ts';

let receiver: OtlpReceiver;
let userService: ServiceProcess;
let gateway: ServiceProcess;
let pair: Pair | undefined;

before(async () => {
  pair = await startPair();
  ({ receiver, userService, gateway } = pair);
});

after(() => stopPair(pair));

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
