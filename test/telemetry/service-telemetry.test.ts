// Both services as real processes (production start command, built output) exporting over OTLP/gRPC
// to an in-process receiver: traces, logs and metrics of real requests.

import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import {
  OtlpReceiver,
  SpanKind,
  StatusCode,
  type ReceivedLog,
  type ReceivedSpan,
} from '../support/otlp-receiver.ts';
import { startService, type ServiceProcess } from '../support/service-process.ts';

let receiver: OtlpReceiver;
let userService: ServiceProcess;
let gateway: ServiceProcess;

/** Requests sent to GET /user/:id in this file, by the outcome the gateway must count. */
const sent = { found: 0, not_found: 0, invalid: 0, upstream_error: 0 };

async function get(
  path: string,
): Promise<{ status: number; body: unknown; traceresponse: string; contentType: string }> {
  const response = await fetch(`${gateway.url}${path}`);
  const text = await response.text();
  return {
    status: response.status,
    body: text ? JSON.parse(text) : undefined,
    traceresponse: response.headers.get('traceresponse') ?? '',
    contentType: response.headers.get('content-type') ?? '',
  };
}

function traceIdOf(traceresponse: string): { traceId: string; spanId: string } {
  const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/.exec(traceresponse);
  assert.ok(
    match,
    `traceresponse header "${traceresponse}" is not W3C 00-<trace-id>-<span-id>-<flags>`,
  );
  return { traceId: match[1] ?? '', spanId: match[2] ?? '' };
}

/** Waits until the trace has `count` spans (and a little longer, to catch extra ones). */
async function traceSpans(traceId: string, count: number): Promise<ReceivedSpan[]> {
  await receiver.waitFor(
    () => receiver.spans.filter((s) => s.traceId === traceId).length >= count,
    {
      what: `${count} spans of trace ${traceId}`,
    },
  );
  await new Promise((resolve) => setTimeout(resolve, 400));
  return receiver.spans.filter((s) => s.traceId === traceId);
}

function one(spans: ReceivedSpan[], service: string, kind: number): ReceivedSpan {
  const found = spans.filter((s) => s.resource['service.name'] === service && s.kind === kind);
  assert.equal(
    found.length,
    1,
    `exactly one ${service} span of kind ${kind}: ${JSON.stringify(spans.map((s) => s.name))}`,
  );
  return found[0] as ReceivedSpan;
}

before(async () => {
  receiver = await OtlpReceiver.start();
  const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint };
  userService = await startService('user-service', { ...otel, DB_LATENCY_MS: '2' });
  gateway = await startService('api-gateway', {
    ...otel,
    USER_SERVICE_URL: userService.url,
    // The user's OTEL_RESOURCE_ATTRIBUTES wins over the project's defaults.
    OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=ci,team=observability',
  });
});

after(async () => {
  await Promise.all([gateway?.stop(), userService?.stop()]);
  await receiver?.stop();
});

describe('start', () => {
  test('no warning on stderr: the loader hook is registered without the deprecated API', async () => {
    // Both started and served requests (the receiver is up: no export problems either).
    assert.equal((await get('/user/123')).status, 200);
    sent.found += 1;
    for (const service of [gateway, userService]) {
      assert.deepEqual(
        service.stderr.filter((line) => /warning|\(node:\d+\)/i.test(line)),
        [],
        `${service.name} stderr`,
      );
    }
  });
});

describe('traces', () => {
  test('one request is one trace: gateway server -> gateway client -> user-service server -> query', async () => {
    const response = await get('/user/123');
    sent.found += 1;
    assert.equal(response.status, 200);
    assert.deepEqual(Object.keys(response.body as object).sort(), ['email', 'id', 'name']);
    assert.equal((response.body as { id: number }).id, 123);
    const { traceId, spanId } = traceIdOf(response.traceresponse);

    const spans = await traceSpans(traceId, 4);
    assert.equal(
      spans.length,
      4,
      `4 spans, got ${spans.map((s) => `${s.resource['service.name']}:${s.name}`).join(', ')}`,
    );
    const gatewayServer = one(spans, 'api-gateway', SpanKind.SERVER);
    const gatewayClient = one(spans, 'api-gateway', SpanKind.CLIENT);
    const userServer = one(spans, 'user-service', SpanKind.SERVER);
    const query = one(spans, 'user-service', SpanKind.CLIENT);

    // Parent chain.
    assert.equal(gatewayServer.parentSpanId, '', 'the gateway server span is the root');
    assert.equal(gatewayClient.parentSpanId, gatewayServer.spanId);
    assert.equal(userServer.parentSpanId, gatewayClient.spanId);
    assert.equal(query.parentSpanId, userServer.spanId);
    // traceresponse names the gateway's server span.
    assert.equal(spanId, gatewayServer.spanId);

    // Server spans are named by the Express route and carry http.route.
    assert.equal(gatewayServer.name, 'GET /user/:id');
    assert.equal(gatewayServer.attributes['http.route'], '/user/:id');
    assert.equal(gatewayServer.attributes['http.response.status_code'], 200);
    assert.equal(userServer.name, 'GET /users/:id');
    assert.equal(userServer.attributes['http.route'], '/users/:id');
    // The fetch client span (instrumentation-undici).
    assert.equal(gatewayClient.name, 'GET');
    assert.equal(gatewayClient.attributes['url.full'], `${userService.url}/users/123`);
    assert.equal(gatewayClient.attributes['http.response.status_code'], 200);
    // The query span follows the stable database semantic conventions.
    assert.equal(query.name, 'SELECT users');
    assert.equal(query.attributes['db.system.name'], 'other_sql');
    assert.equal(query.attributes['db.namespace'], 'users_db');
    assert.equal(query.attributes['db.collection.name'], 'users');
    assert.equal(query.attributes['db.operation.name'], 'SELECT');
    assert.equal(query.attributes['db.query.summary'], 'SELECT users');
    assert.equal(
      query.attributes['db.query.text'],
      'SELECT id, name, email FROM users WHERE id = ?',
    );
    for (const span of spans)
      assert.equal(span.status.code, StatusCode.UNSET, `${span.name} status`);
  });

  test('resource: service identity, namespace, environment, instance id and detected attributes', async () => {
    const gatewaySpan = receiver.spans.find((s) => s.resource['service.name'] === 'api-gateway');
    const userSpan = receiver.spans.find((s) => s.resource['service.name'] === 'user-service');
    assert.ok(gatewaySpan && userSpan);
    for (const span of [gatewaySpan, userSpan]) {
      assert.equal(span.resource['service.namespace'], 'node-observability-stack');
      assert.equal(span.resource['service.version'], '0.1.0');
      assert.match(String(span.resource['service.instance.id']), /^[0-9a-f-]{36}$/);
      assert.equal(typeof span.resource['host.name'], 'string');
      assert.equal(typeof span.resource['process.pid'], 'number');
    }
    assert.equal(userSpan.resource['deployment.environment.name'], 'local');
    assert.equal(gatewaySpan.resource['deployment.environment.name'], 'ci');
    assert.equal(gatewaySpan.resource.team, 'observability');
    assert.equal(gatewaySpan.resource['process.pid'], gateway.pid);
  });

  test('client-sized attributes are cut to 1024 characters (OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT)', async () => {
    // A 14 KB query, User-Agent and Host: within Node's 16 KiB header limit together they are not,
    // so each is sent on its own request, all answered 400 (the id is invalid).
    const big = 'q'.repeat(14 * 1024);
    const shapes: ({ path: string } & Record<string, string>)[] = [
      { path: `/user/abc?q=${big}` },
      { path: '/user/abc?case=ua', 'user-agent': big },
      { path: '/user/abc?case=host', host: `${big}.example` },
    ];
    for (const { path, ...headers } of shapes) {
      const traceresponse = await new Promise<string>((resolve, reject) => {
        const req = request(`${gateway.url}${path}`, { headers }, (res) => {
          res.resume();
          assert.equal(res.statusCode, 400);
          resolve(String(res.headers.traceresponse ?? ''));
        });
        req.on('error', reject);
        req.end();
      });
      sent.invalid += 1;
      const { traceId } = traceIdOf(traceresponse);
      const [server] = await traceSpans(traceId, 1);
      for (const key of ['url.query', 'user_agent.original', 'server.address']) {
        const value = server?.attributes[key];
        if (typeof value === 'string') assert.ok(value.length <= 1024, `${key}: ${value.length}`);
      }
      const longest = Math.max(
        ...Object.values(server?.attributes ?? {}).map((v) =>
          typeof v === 'string' ? v.length : 0,
        ),
      );
      assert.equal(longest, 1024, `${path.slice(0, 30)}: the big value is there, cut to 1024`);
    }
  });

  test('404: not an error on the servers, an error on the client span', async () => {
    const response = await get('/user/999');
    sent.not_found += 1;
    assert.equal(response.status, 404);
    assert.match(response.contentType, /^application\/problem\+json/);
    const problem = response.body as Record<string, unknown>;
    assert.equal(problem.status, 404);
    assert.equal(problem.title, 'Not Found');
    assert.match(String(problem.detail), /999/);
    assert.equal(problem.instance, '/user/999');
    const { traceId } = traceIdOf(response.traceresponse);
    assert.equal(problem.traceId, traceId);

    const spans = await traceSpans(traceId, 4);
    const gatewayServer = one(spans, 'api-gateway', SpanKind.SERVER);
    const gatewayClient = one(spans, 'api-gateway', SpanKind.CLIENT);
    const userServer = one(spans, 'user-service', SpanKind.SERVER);
    // Semantic conventions: 4xx is not a server error, but is a client error.
    assert.equal(gatewayServer.status.code, StatusCode.UNSET);
    assert.equal(gatewayServer.attributes['http.response.status_code'], 404);
    assert.equal(gatewayServer.attributes['error.type'], undefined);
    assert.equal(userServer.status.code, StatusCode.UNSET);
    assert.equal(gatewayClient.status.code, StatusCode.ERROR);
    assert.equal(gatewayClient.attributes['error.type'], '404');
    assert.deepEqual(
      spans.filter((s) => s.status.code === StatusCode.ERROR).map((s) => s.name),
      ['GET'],
      'the client span is the only error (the walkthrough says "one red span")',
    );
  });

  test('upstream failure: 502, error status, error.type and exception events along the trace', async () => {
    const faults = await fetch(`${userService.url}/admin/faults`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ errorRate: 1 }),
    });
    assert.equal(faults.status, 200);
    try {
      const response = await get('/user/42');
      sent.upstream_error += 1;
      assert.equal(response.status, 502);
      assert.match(response.contentType, /^application\/problem\+json/);
      assert.match(
        String((response.body as { detail: string }).detail),
        /user-service answered HTTP 500/,
      );
      const { traceId } = traceIdOf(response.traceresponse);

      const spans = await traceSpans(traceId, 4);
      const gatewayServer = one(spans, 'api-gateway', SpanKind.SERVER);
      const gatewayClient = one(spans, 'api-gateway', SpanKind.CLIENT);
      const userServer = one(spans, 'user-service', SpanKind.SERVER);
      const query = one(spans, 'user-service', SpanKind.CLIENT);

      assert.equal(query.status.code, StatusCode.ERROR);
      assert.equal(query.attributes['error.type'], 'SIMULATED_FAULT');
      const exception = query.events.find((e) => e.name === 'exception');
      assert.equal(exception?.attributes['exception.type'], 'SIMULATED_FAULT');
      assert.equal(
        exception?.attributes['exception.message'],
        'simulated database failure (injected fault)',
      );
      assert.match(String(exception?.attributes['exception.stacktrace']), /DatabaseError/);
      assert.equal(userServer.status.code, StatusCode.ERROR);
      assert.equal(userServer.attributes['http.response.status_code'], 500);
      assert.equal(userServer.attributes['error.type'], '500');
      assert.ok(
        userServer.events.some((e) => e.name === 'exception'),
        'exception event on the user-service server span',
      );
      assert.equal(gatewayClient.status.code, StatusCode.ERROR);
      assert.equal(gatewayClient.attributes['error.type'], '500');
      assert.equal(gatewayServer.status.code, StatusCode.ERROR);
      assert.equal(gatewayServer.attributes['http.response.status_code'], 502);
      assert.equal(gatewayServer.attributes['error.type'], '502');

      // The error is logged on both sides, inside the trace.
      const errorLogs = await receiver.waitFor(
        () => {
          const logs = receiver.logs.filter((l) => l.traceId === traceId && l.severityNumber >= 17);
          return logs.some((l) => l.resource['service.name'] === 'api-gateway') &&
            logs.some((l) => l.resource['service.name'] === 'user-service')
            ? logs
            : undefined;
        },
        { what: 'error logs of the failed request' },
      );
      assert.ok(errorLogs.every((l) => l.severityText === 'error'));
    } finally {
      await fetch(`${userService.url}/admin/faults`, { method: 'DELETE' });
    }
  });
});

describe('logs', () => {
  test('every record of a request arrives once, with the trace and span ids of that request', async () => {
    const traces: string[] = [];
    for (const path of ['/user/7', '/user/8', '/user/999', '/user/abc']) {
      const response = await get(path);
      if (response.status === 200) sent.found += 1;
      else if (response.status === 404) sent.not_found += 1;
      else sent.invalid += 1;
      traces.push(traceIdOf(response.traceresponse).traceId);
    }
    // Valid and unknown ids reach user-service (records on both sides); invalid ids stop at the gateway.
    const minimum = [2, 2, 2, 1];
    for (const [index, traceId] of traces.entries()) {
      // What the services printed on stdout for this trace...
      const stdout = () =>
        [...gateway.records, ...userService.records].filter((r) => r.trace_id === traceId);
      await receiver.waitFor(() => stdout().length >= (minimum[index] ?? 1), {
        what: 'stdout records',
      });
      const printed = stdout();
      // ...arrives over OTLP exactly once per record.
      const exported = await receiver.waitFor(
        () => {
          const logs = receiver.logs.filter((l) => l.traceId === traceId);
          return logs.length >= printed.length ? logs : undefined;
        },
        { what: `log records of trace ${traceId}` },
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      const final = receiver.logs.filter((l) => l.traceId === traceId);
      assert.equal(
        final.length,
        printed.length,
        `records of trace ${traceId}: printed ${printed.length}, exported ${final.length}`,
      );
      assert.equal(exported.length, printed.length);
      const spans = await traceSpans(traceId, 1);
      const spanIds = new Set(spans.map((s) => s.spanId));
      for (const record of printed) {
        const matching = final.filter(
          (l: ReceivedLog) =>
            l.body === record.msg &&
            l.spanId === record.span_id &&
            l.resource['service.name'] ===
              (gateway.records.includes(record) ? 'api-gateway' : 'user-service'),
        );
        assert.equal(matching.length, 1, `record "${record.msg}" exported once`);
        assert.ok(spanIds.has(String(record.span_id)), 'span_id is a span of the trace');
      }
      for (const log of final) {
        assert.equal(log.flags & 0xff, 1, 'sampled flag carried');
        assert.ok(spanIds.has(log.spanId));
      }
    }
  });

  test('no record is lost or duplicated: as many OTLP records as stdout lines, per service', async () => {
    for (const s of [gateway, userService]) {
      const service = s.name;
      await receiver.waitFor(
        () =>
          receiver.logs.filter((l) => l.resource['service.name'] === service).length >=
          s.records.length,
        { what: `${service}: ${s.records.length} log records` },
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      const exported = receiver.logs.filter((l) => l.resource['service.name'] === service);
      assert.equal(exported.length, s.records.length, service);
      const key = (msg: unknown, spanId: unknown) => `${String(msg)}|${String(spanId ?? '')}`;
      assert.deepEqual(
        exported.map((l) => key(l.body, l.spanId)).sort(),
        s.records.map((r) => key(r.msg, r.span_id)).sort(),
      );
    }
  });

  test('severity is mapped and the resource matches the spans', async () => {
    const info = receiver.logs.find(
      (l) => l.body === 'request completed' && l.severityText === 'info',
    );
    assert.ok(info);
    assert.equal(info.severityNumber, 9);
    const error = receiver.logs.find((l) => l.severityText === 'error');
    assert.ok(error);
    assert.equal(error.severityNumber, 17);
    for (const service of ['api-gateway', 'user-service']) {
      const log = receiver.logs.find((l) => l.resource['service.name'] === service);
      const span = receiver.spans.find((s) => s.resource['service.name'] === service);
      assert.ok(log && span);
      for (const key of [
        'service.name',
        'service.version',
        'service.namespace',
        'service.instance.id',
        'deployment.environment.name',
        'host.name',
      ]) {
        assert.equal(
          log.resource[key],
          span.resource[key],
          `${service} logs and spans agree on ${key}`,
        );
      }
      // The transport names its logger after the service; the SDK path is instrumentation-pino's.
      assert.equal(
        log.scope,
        process.env.LOG_EXPORT === 'sdk' ? '@opentelemetry/instrumentation-pino' : service,
      );
    }
    // Structured fields become attributes; the correlation fields become the record's ids.
    assert.equal(info.attributes['http.request.method'], 'GET');
    assert.equal(info.attributes.trace_id, undefined);
  });
});

describe('metrics', () => {
  test('api.user.requests counts the requests sent, by outcome', async () => {
    const expected = Object.fromEntries(Object.entries(sent).filter(([, n]) => n > 0));
    const actual = await receiver.waitFor(
      () => {
        const points = receiver.latestPoints('api.user.requests');
        const counts = Object.fromEntries(
          points.map((p) => [String(p.attributes.outcome), p.value]),
        );
        return Object.entries(expected).every(([outcome, n]) => counts[outcome] === n)
          ? counts
          : undefined;
      },
      { what: `api.user.requests == ${JSON.stringify(expected)}` },
    );
    assert.deepEqual(actual, expected);
    const point = receiver.latestPoints('api.user.requests')[0];
    assert.equal(point?.type, 'sum');
    assert.equal(point?.isMonotonic, true);
    assert.equal(point?.unit, '{request}');
  });

  test('stable HTTP metrics with http.route, database and runtime metrics', async () => {
    await receiver.waitFor(
      () => receiver.metrics.some((p) => p.name === 'db.client.operation.duration'),
      { what: 'db.client.operation.duration' },
    );
    const server = receiver.latestPoints(
      'http.server.request.duration',
      (p) => p.resource['service.name'] === 'api-gateway',
    );
    const gatewayRoute = server.find(
      (p) =>
        p.attributes['http.route'] === '/user/:id' &&
        p.attributes['http.response.status_code'] === 200,
    );
    assert.ok(
      gatewayRoute,
      `gateway http.server.request.duration with http.route: ${JSON.stringify(server.map((p) => p.attributes))}`,
    );
    assert.equal(gatewayRoute.type, 'histogram');
    assert.equal(gatewayRoute.unit, 's');
    assert.ok((gatewayRoute.count ?? 0) >= 1);
    const userRoute = receiver
      .latestPoints(
        'http.server.request.duration',
        (p) => p.resource['service.name'] === 'user-service',
      )
      .find((p) => p.attributes['http.route'] === '/users/:id');
    assert.ok(userRoute);
    const client = receiver.latestPoints(
      'http.client.request.duration',
      (p) => p.resource['service.name'] === 'api-gateway',
    );
    assert.ok(client.some((p) => p.attributes['server.port'] === userService.port));
    const db = receiver.latestPoints('db.client.operation.duration');
    assert.ok(
      db.some(
        (p) =>
          p.attributes['db.system.name'] === 'other_sql' &&
          p.attributes['db.collection.name'] === 'users',
      ),
    );
    assert.ok(db.some((p) => p.attributes['error.type'] === 'SIMULATED_FAULT'));
    const lookups = receiver.latestPoints('user.lookups');
    assert.deepEqual(
      new Set(lookups.map((p) => p.attributes.result)),
      new Set(['found', 'not_found', 'error']),
    );
    const names = new Set(receiver.metrics.map((p) => p.name));
    assert.ok(
      [...names].some((n) => n.startsWith('nodejs.eventloop.')),
      `runtime metrics: ${[...names].join(', ')}`,
    );
    assert.ok([...names].some((n) => n.startsWith('v8js.')));
  });
});
