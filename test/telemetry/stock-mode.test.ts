// The stock zero-code mode (TELEMETRY_MODE=stock / stock-esm, services/telemetry/bin/start.sh): the
// same built services started by `npm start` with @opentelemetry/auto-instrumentations-node's
// register instead of this project's preload, exporting over OTLP/gRPC to an in-process receiver.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { OtlpReceiver, SpanKind, type ReceivedSpan } from '../support/otlp-receiver.ts';
import { startService, type ServiceProcess } from '../support/service-process.ts';

interface Pair {
  receiver: OtlpReceiver;
  user: ServiceProcess;
  gateway: ServiceProcess;
}

async function startPair(mode: string): Promise<Pair> {
  const receiver = await OtlpReceiver.start();
  // The stock register would probe every cloud's metadata service; no cloud here.
  const otel = {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_NODE_RESOURCE_DETECTORS: 'env,host,os,process,serviceinstance',
    TELEMETRY_MODE: mode,
  };
  const user = await startService('user-service', { ...otel, DB_LATENCY_MS: '2' });
  const gateway = await startService('api-gateway', { ...otel, USER_SERVICE_URL: user.url });
  return { receiver, user, gateway };
}

async function stopPair(pair: Pair | undefined): Promise<void> {
  await Promise.all([pair?.gateway.stop(), pair?.user.stop()]);
  await pair?.receiver.stop();
}

/** GET /user/123 and the trace id of its `traceresponse` header. */
async function request(pair: Pair): Promise<string> {
  const response = await fetch(`${pair.gateway.url}/user/123`);
  await response.arrayBuffer();
  assert.equal(response.status, 200);
  const traceId = /^00-([0-9a-f]{32})-/.exec(response.headers.get('traceresponse') ?? '')?.[1];
  assert.ok(traceId, 'traceresponse header');
  return traceId;
}

function serverSpan(spans: ReceivedSpan[], service: string): ReceivedSpan {
  const found = spans.filter(
    (s) => s.resource['service.name'] === service && s.kind === SpanKind.SERVER,
  );
  assert.equal(
    found.length,
    1,
    `one ${service} server span: ${spans.map((s) => s.name).join(', ')}`,
  );
  return found[0] as ReceivedSpan;
}

describe('TELEMETRY_MODE=stock (the Operator way: NODE_OPTIONS=--require the stock register)', () => {
  let pair: Pair;
  before(async () => {
    pair = await startPair('stock');
  });
  after(() => stopPair(pair));

  test('one trace across both services, exported over OTLP/gRPC, named by the start command', async () => {
    const traceId = await request(pair);
    const { receiver } = pair;
    const inTrace = () => receiver.spans.filter((s) => s.traceId === traceId);
    await receiver.waitFor(() => inTrace().filter((s) => s.kind === SpanKind.SERVER).length >= 2, {
      what: `the server spans of trace ${traceId}`,
    });
    const gatewaySpan = serverSpan(inTrace(), 'api-gateway');
    const userSpan = serverSpan(inTrace(), 'user-service');
    assert.equal(gatewaySpan.scope, '@opentelemetry/instrumentation-http');
    assert.ok(
      inTrace().some((s) => s.name === 'SELECT users'),
      "the application's own span joins the stock SDK's trace",
    );
    assert.ok(userSpan.parentSpanId, 'user-service continues the gateway’s trace');
  });

  test('one SDK per service: the log worker starts none of its own', async () => {
    const { receiver } = pair;
    await receiver.waitFor(
      () => receiver.metrics.some((m) => m.scope === '@opentelemetry/instrumentation-runtime-node'),
      { what: 'runtime metrics' },
    );
    // Let a few metric exports arrive from every SDK there is.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    for (const service of ['api-gateway', 'user-service']) {
      const instances = new Set(
        [...receiver.spans, ...receiver.metrics]
          .filter((s) => s.resource['service.name'] === service)
          .map((s) => s.resource['service.instance.id']),
      );
      assert.equal(instances.size, 1, `${service}: ${[...instances].join(', ')}`);
    }
  });
});

describe('TELEMETRY_MODE=stock-esm (stock plus the ESM loader hook)', () => {
  let pair: Pair;
  before(async () => {
    pair = await startPair('stock-esm');
  });
  after(() => stopPair(pair));

  test('routes name the server spans; each access-log record arrives once, with its trace id', async () => {
    const traceId = await request(pair);
    const { receiver } = pair;
    const completed = () =>
      receiver.logs.filter((l) => l.traceId === traceId && l.body === 'request completed');
    await receiver.waitFor(
      () =>
        completed().length >= 2 &&
        receiver.spans.filter((s) => s.traceId === traceId && s.kind === SpanKind.SERVER).length >=
          2,
      { what: `the server spans and access logs of trace ${traceId}` },
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    const spans = receiver.spans.filter((s) => s.traceId === traceId);
    assert.equal(serverSpan(spans, 'api-gateway').name, 'GET /user/:id');
    assert.equal(serverSpan(spans, 'user-service').name, 'GET /users/:id');
    // instrumentation-pino sends them (the project's OTLP transport is not started in stock mode).
    assert.deepEqual(
      completed()
        .map((l) => l.resource['service.name'])
        .sort(),
      ['api-gateway', 'user-service'],
    );
    assert.ok(completed().every((l) => l.scope === '@opentelemetry/instrumentation-pino'));
  });
});
