// Malformed or hostile input: every case gets its 4xx (never a 5xx, never a crash), as an RFC 9457
// problem document wherever the request reaches the application. Raw requests go over a plain TCP
// socket so the HTTP parser's own rejections are covered too.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SpanKind, type OtlpReceiver } from '../support/otlp-receiver.ts';
import type { ServiceProcess } from '../support/service-process.ts';
import { big, check, gatewayCases, userServiceCases } from './bad-input-cases.ts';
import { raw, request, startPair, stopPair, type Pair } from './raw-http.ts';

let receiver: OtlpReceiver;
let userService: ServiceProcess;
let gateway: ServiceProcess;
let pair: Pair | undefined;

before(async () => {
  pair = await startPair();
  ({ receiver, userService, gateway } = pair);
});

after(() => stopPair(pair));

describe('api-gateway rejects bad input with a 4xx', () => {
  for (const c of gatewayCases) test(c.name, async () => check(c, await raw(gateway.port, c.send)));
});

describe('user-service rejects bad input with a 4xx', () => {
  for (const c of userServiceCases)
    test(c.name, async () => check(c, await raw(userService.port, c.send)));
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
