// Failure modes with real processes: collector down, user-service down or slow, SIGTERM during a
// request, invalid configuration.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { after, describe, test } from 'node:test';
import { OtlpReceiver, SpanKind, StatusCode, type ReceivedSpan } from '../support/otlp-receiver.ts';
import { freePort, startService, type ServiceProcess } from '../support/service-process.ts';

const started: ServiceProcess[] = [];
const receivers: OtlpReceiver[] = [];

async function service(...args: Parameters<typeof startService>): Promise<ServiceProcess> {
  const s = await startService(...args);
  started.push(s);
  return s;
}

async function receiverOn(port = 0): Promise<OtlpReceiver> {
  const r = await OtlpReceiver.start(port);
  receivers.push(r);
  return r;
}

after(async () => {
  await Promise.all(started.map((s) => s.stop()));
  await Promise.all(receivers.map((r) => r.stop()));
});

function traceIdOf(response: Response): string {
  const header = response.headers.get('traceresponse') ?? '';
  const match = /^00-([0-9a-f]{32})-[0-9a-f]{16}-0[01]$/.exec(header);
  assert.ok(match, `traceresponse "${header}"`);
  return match[1] ?? '';
}

function spansOf(
  receiver: OtlpReceiver,
  traceId: string,
  service: string,
  kind: number,
): ReceivedSpan[] {
  return receiver.spans.filter(
    (s) => s.traceId === traceId && s.resource['service.name'] === service && s.kind === kind,
  );
}

const telemetryProblems = (s: ServiceProcess) =>
  s.stderr.filter((line) => line.includes('"component":"opentelemetry"'));

describe('collector unreachable', () => {
  test('requests succeed, the process stays healthy, exporter errors are reported without flooding', async () => {
    const collectorPort = await freePort();
    const otel = {
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collectorPort}`,
      // Export often, so many exports fail during the test.
      OTEL_METRIC_EXPORT_INTERVAL: '200',
    };
    const userService = await service('user-service', otel);
    const gateway = await service('api-gateway', { ...otel, USER_SERVICE_URL: userService.url });

    const statuses: number[] = [];
    for (let batch = 0; batch < 20; batch++) {
      const responses = await Promise.all(
        Array.from({ length: 10 }, (_, i) => fetch(`${gateway.url}/user/${batch * 10 + i + 1}`)),
      );
      for (const response of responses) {
        statuses.push(response.status);
        await response.arrayBuffer();
      }
    }
    assert.deepEqual(new Set(statuses), new Set([200]), 'every request answered 200');
    await new Promise((resolve) => setTimeout(resolve, 2500));
    for (const s of [gateway, userService]) {
      assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
      assert.equal((await fetch(`${s.url}/readyz`)).status, 200);
      assert.equal(s.npm.exitCode, null, `${s.name} still running`);
      // ~12 metric exports and several span exports failed; each distinct problem is written once
      // per minute.
      const problems = telemetryProblems(s);
      assert.ok(problems.length >= 1, `${s.name} reports the export failure`);
      assert.ok(
        problems.length <= 5,
        `${s.name} rate-limits its reports: ${problems.length} lines`,
      );
      // Whatever the exporter's wording (refused, unavailable, timed out: it depends on timing and
      // on the SDK version), the failure is an error-level record of the opentelemetry component.
      const records = problems.map((line) => JSON.parse(line) as { level: number; msg: unknown });
      assert.ok(
        records.some((r) => r.level === 50 && typeof r.msg === 'string' && r.msg.length > 0),
        `${s.name} reports an export error: ${problems.join(' | ')}`,
      );
    }

    // The collector comes back: telemetry flows again without a restart.
    const receiver = await receiverOn(collectorPort);
    await receiver.waitFor(
      () =>
        receiver.metrics.some((p) => p.resource['service.name'] === 'api-gateway') &&
        receiver.metrics.some((p) => p.resource['service.name'] === 'user-service'),
      { what: 'metrics from both services after the collector came back', timeoutMs: 20_000 },
    );
    const response = await fetch(`${gateway.url}/user/123`);
    assert.equal(response.status, 200);
    const traceId = traceIdOf(response);
    await receiver.waitFor(() => receiver.spans.filter((s) => s.traceId === traceId).length === 4, {
      what: 'the 4 spans of a request after the collector came back',
      timeoutMs: 20_000,
    });

    assert.equal(await gateway.stop(), 0);
    assert.equal(await userService.stop(), 0);
  });
});

describe('user-service failures seen from the gateway', () => {
  test('user-service down: 502 as unreachable (not a timeout), error span and error log', async () => {
    const receiver = await receiverOn();
    const deadPort = await freePort();
    const gateway = await service('api-gateway', {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      USER_SERVICE_URL: `http://127.0.0.1:${deadPort}`,
      USER_SERVICE_TIMEOUT_MS: '1000',
    });
    // A refused connection is answered as unreachable (502, ECONNREFUSED), not after the 1 s budget
    // as a timeout (504): the status and the detail say which, whatever the machine's load.
    const response = await fetch(`${gateway.url}/user/123`);
    assert.equal(response.status, 502);
    assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/);
    const problem = (await response.json()) as { detail: string; status: number };
    assert.equal(problem.status, 502);
    assert.match(problem.detail, /unreachable .*ECONNREFUSED/);
    const traceId = traceIdOf(response);

    await receiver.waitFor(
      () => spansOf(receiver, traceId, 'api-gateway', SpanKind.CLIENT).length === 1,
      {
        what: 'client span',
      },
    );
    const [server] = await receiver.waitFor(() => {
      const found = spansOf(receiver, traceId, 'api-gateway', SpanKind.SERVER);
      return found.length === 1 ? found : undefined;
    });
    const [client] = spansOf(receiver, traceId, 'api-gateway', SpanKind.CLIENT);
    assert.equal(client?.status.code, StatusCode.ERROR);
    assert.equal(client?.attributes['error.type'], 'ECONNREFUSED');
    assert.ok(client?.events.some((e) => e.name === 'exception'));
    assert.equal(server?.status.code, StatusCode.ERROR);
    assert.equal(server?.attributes['http.response.status_code'], 502);

    const log = await receiver.waitFor(() =>
      receiver.logs.find((l) => l.traceId === traceId && l.severityNumber === 17),
    );
    assert.match(String(log.body), /unreachable/);
    assert.equal(log.attributes.outcome, 'upstream_error');
    assert.equal(log.spanId, server?.spanId);
    assert.equal(await gateway.stop(), 0);
  });

  test('an endless chunked answer: 502 once the size limit is passed, the stream abandoned', async () => {
    // A stand-in for user-service that answers 200 with a chunked body that never ends: no
    // content-length to refuse up front, so only a limit counted while reading can stop it.
    let upstreamClosed: () => void = () => {};
    const closed = new Promise<void>((resolve) => (upstreamClosed = resolve));
    let sentBytes = 0;
    const upstream = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(16 * 1024, 'a');
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) sentBytes += chunk.length;
        if (!res.destroyed) res.once('drain', pump);
      };
      res.once('close', upstreamClosed);
      pump();
    });
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    const address = upstream.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    try {
      const receiver = await receiverOn();
      const gateway = await service('api-gateway', {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        USER_SERVICE_URL: `http://127.0.0.1:${port}`,
        // Long enough that a timeout (504) cannot be what ends the exchange.
        USER_SERVICE_TIMEOUT_MS: '60000',
      });
      const response = await fetch(`${gateway.url}/user/123`);
      const problem = (await response.json()) as { detail: string };
      assert.equal(response.status, 502, problem.detail);
      assert.match(problem.detail, /more than 65536 bytes/);
      await closed;
      assert.ok(sentBytes > 64 * 1024, `the stand-in sent ${sentBytes} bytes`);
      assert.equal(await gateway.stop(), 0);
    } finally {
      upstream.closeAllConnections();
      upstream.close();
    }
  });

  describe('with a slow user-service', () => {
    let receiver: OtlpReceiver;
    let userService: ServiceProcess;
    let gateway: ServiceProcess;

    test('setup', async () => {
      receiver = await receiverOn();
      userService = await service('user-service', {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        SHUTDOWN_DELAY_MS: '500',
      });
      gateway = await service('api-gateway', {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        USER_SERVICE_URL: userService.url,
        USER_SERVICE_TIMEOUT_MS: '600',
      });
    });

    test('too slow: 504 after the gateway budget, error span and error log', async () => {
      await fetch(`${userService.url}/admin/faults`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ latencyMs: 3000 }),
      });
      const start = performance.now();
      const response = await fetch(`${gateway.url}/user/123`);
      const elapsed = performance.now() - start;
      assert.equal(response.status, 504);
      // It waited for its budget (load only lengthens that) and answered before user-service did: the
      // 504 and the aborted client span below, not a clock, show it did not wait the 3 s.
      assert.ok(elapsed >= 550, `answered after its 600 ms budget: ${Math.round(elapsed)} ms`);
      const problem = (await response.json()) as { detail: string };
      assert.match(problem.detail, /did not answer within 600 ms/);
      const traceId = traceIdOf(response);
      const [server] = await receiver.waitFor(() => {
        const found = spansOf(receiver, traceId, 'api-gateway', SpanKind.SERVER);
        return found.length === 1 ? found : undefined;
      });
      assert.equal(server?.status.code, StatusCode.ERROR);
      assert.equal(server?.attributes['error.type'], '504');
      const client = spansOf(receiver, traceId, 'api-gateway', SpanKind.CLIENT);
      assert.equal(client.length, 1, 'the aborted call still has its client span');
      assert.equal(client[0]?.status.code, StatusCode.ERROR);
      assert.equal(client[0]?.attributes['error.type'], 'TimeoutError');
      const log = await receiver.waitFor(() =>
        receiver.logs.find((l) => l.traceId === traceId && l.severityNumber === 17),
      );
      assert.equal(log.attributes.outcome, 'timeout');
      await fetch(`${userService.url}/admin/faults`, { method: 'DELETE' });
    });

    test('SIGTERM during a slow request: it completes, its telemetry arrives, exit code 0', async () => {
      await fetch(`${userService.url}/admin/faults`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ latencyMs: 1200 }),
      });
      // Direct to user-service: the request that must survive the shutdown.
      const inFlight = fetch(`${userService.url}/users/123`);
      await new Promise((resolve) => setTimeout(resolve, 300));
      userService.signal('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 150));
      // During SHUTDOWN_DELAY_MS: still serving, readiness failing.
      const ready = await fetch(`${userService.url}/readyz`, { headers: { connection: 'close' } });
      assert.equal(ready.status, 503);

      const response = await inFlight;
      assert.equal(response.status, 200);
      assert.equal(((await response.json()) as { id: number }).id, 123);
      const traceId = traceIdOf(response);
      assert.equal(await userService.exited, 0, 'exit code 0');
      await assert.rejects(fetch(`${userService.url}/healthz`), 'the listener is closed');

      // Spans and logs of the in-flight request were flushed before the exit.
      const spans = receiver.spans.filter((s) => s.traceId === traceId);
      assert.deepEqual(spans.map((s) => s.name).sort(), ['GET /users/:id', 'SELECT users']);
      const logs = receiver.logs.filter((l) => l.traceId === traceId);
      assert.ok(
        logs.some((l) => l.body === 'request completed'),
        'the request log arrived',
      );
      assert.ok(
        receiver.logs.some(
          (l) =>
            l.resource['service.name'] === 'user-service' &&
            l.body === 'stopped; flushing telemetry',
        ),
      );
      const order = userService.records;
      const completed = order.findIndex(
        (r) => r.trace_id === traceId && r.msg === 'request completed',
      );
      const draining = order.findIndex(
        (r) => r.msg === 'shutting down: draining in-flight requests',
      );
      const stopped = order.findIndex((r) => r.msg === 'stopped; flushing telemetry');
      assert.ok(
        draining < completed && completed < stopped,
        'drain, then the request completes, then the flush',
      );
    });

    test('the gateway drains and exits 0 on SIGINT', async () => {
      gateway.signal('SIGINT');
      assert.equal(await gateway.exited, 0);
    });
  });
});

describe('configuration', () => {
  test('an invalid variable stops the start with exit code 1 and names it', async () => {
    const gateway = await service(
      'api-gateway',
      { USER_SERVICE_TIMEOUT_MS: 'soon', USER_SERVICE_URL: 'ftp://x', OTEL_SDK_DISABLED: 'true' },
      { waitForReady: false, port: 1 },
    );
    assert.equal(await gateway.exited, 1);
    // One fatal record on stderr, shaped like the service's log records: no logger runs yet.
    const fatal = gateway.stderr
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { level?: unknown; msg?: unknown })
      .filter((record) => record.level === 60);
    assert.equal(fatal.length, 1, gateway.stderr.join('\n'));
    const message = String(fatal[0]?.msg);
    assert.match(message, /^api-gateway: invalid configuration/);
    assert.match(
      message,
      /USER_SERVICE_TIMEOUT_MS must be an integer between 1 and 60000 \(got "soon"\)/,
    );
    assert.match(message, /USER_SERVICE_URL must use http or https/);
    assert.equal(gateway.records.length, 0, 'nothing started');
  });
});
