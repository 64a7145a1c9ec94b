// End to end, with real components only: the OpenTelemetry Collector (collector/config.yaml),
// Prometheus, Loki and Tempo (backends/*.yaml) as local processes (test/support/local-stack.ts), and
// both services started the production way (npm start, built output) exporting OTLP gRPC to the
// collector. Everything is checked through each backend's own HTTP API.
//
// One stack for two suites (starting the stack and warming the connectors up is the expensive part):
//   1. pipeline (issue 3): a request's trace in Tempo (by id and by TraceQL search), its logs in Loki
//      exactly once, the business counter, HTTP histograms, span metrics, service graph and exemplars
//      in Prometheus; the collector stopped and started during traffic without a failed request, and
//      telemetry after the restart landing.
//   2. queries (issue 6): after traffic including the incident scenario of the traffic generator,
//      every query of docs/walkthrough.md and of every Grafana dashboard panel and variable returns
//      data from the backend it is written for, and every correlation of the Grafana data sources
//      resolves (log -> trace, span -> logs, span -> metrics, exemplar -> trace, service map).
//
// Short export intervals (test/support/service-process.ts FAST_TELEMETRY_ENV) make data land fast;
// every wait polls with a deadline and fails with the backend, the query and the last response.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test, type TestContext } from 'node:test';
import { parse } from 'yaml';
import {
  excerpt,
  finiteSamples,
  LokiApi,
  lokiEntries,
  poll,
  PrometheusApi,
  TempoApi,
  type TempoSpan,
} from '../support/backend-api.ts';
import {
  allDashboardQueries,
  interpolate,
  loadDashboards,
  parseLabelValues,
  variables,
  variablesUsed,
  type DashboardQuery,
} from '../support/dashboard-queries.ts';
import { repoRoot, startLocalStack, type LocalStack } from '../support/local-stack.ts';
import {
  freePort,
  startService,
  type LogRecordJson,
  type ServiceProcess,
} from '../support/service-process.ts';
import { findTool, inCI, requireTool } from '../support/tools.ts';
import {
  TRACE_ID_PLACEHOLDER,
  walkthroughQueries,
  type WalkthroughQuery,
} from '../support/walkthrough-queries.ts';

const STACK_TOOLS = ['otelcol', 'prometheus', 'loki', 'tempo'] as const;
const missingTools = STACK_TOOLS.filter((name) => !findTool(name));
// Outside CI a machine without the binaries skips loudly; under CI=true the `before` hook fails
// (requireTool throws), and with it every test.
const skipReason =
  missingTools.length > 0 && !inCI
    ? `${missingTools.join(', ')} not installed: run 'bash scripts/install-tools.sh'`
    : undefined;
if (skipReason) console.warn(`SKIPPED e2e: ${skipReason}`);

/** deployment.environment.name of the services (their default): the dashboards' $environment. */
const ENVIRONMENT = 'local';
/** Incident scenario of the traffic generator: baseline, faults on, recovery, a third each. */
const INCIDENT_SECONDS = 30;
const INCIDENT_RATE = 10;
/** Latency the incident adds to every user-service database query. */
const INCIDENT_LATENCY_MS = 300;
/** After the incident, the span-metrics error series need two connector flushes (15 s each). */
const SETTLE_AFTER_INCIDENT_MS = 75_000;
/** How long the collector stays down in the fault test (at least). */
const COLLECTOR_DOWN_MS = 3_000;

const startedAt = Date.now();
const timings: Record<string, number> = {};
let stack: LocalStack | undefined;
let userService: ServiceProcess | undefined;
let gateway: ServiceProcess | undefined;

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} is not running (the before hook failed)`);
  return value;
}
const theStack = (): LocalStack => need(stack, 'the local stack');
const prom = (): PrometheusApi => new PrometheusApi(theStack().urls.prometheus);
const loki = (): LokiApi => new LokiApi(theStack().urls.loki);
const tempo = (): TempoApi => new TempoApi(theStack().urls.tempo);
const seconds = (ms: number): number => Math.round(ms) / 1000;

/** poll(), failing at once (with its last output) when a backend has died. */
function eventually<T>(
  what: string,
  attempt: (note: (last: string) => void) => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 500,
): Promise<T> {
  return poll(
    what,
    async (note) => {
      theStack().assertRunning();
      return attempt(note);
    },
    { timeoutMs, intervalMs },
  ).catch((error: unknown) => {
    // A dead backend explains a timeout better than the last response.
    theStack().assertRunning();
    if (error instanceof Error && process.env.NOS_KEEP_STACK_DATA !== '1') {
      error.message += " (NOS_KEEP_STACK_DATA=1 keeps the backends' logs for a look)";
    } else if (error instanceof Error) {
      error.message += ` (backend logs: ${theStack().logDir})`;
    }
    throw error;
  });
}

// ---------------------------------------------------------------------------------------------------
// Requests through the gateway

interface Planned {
  path: string;
  status: number;
}
interface Call extends Planned {
  /** Answered status (0: no answer). */
  answered: number;
  traceId: string;
  at: number;
  doneAt: number;
}

const FOUND: Planned = { path: '/user/123', status: 200 };
const MIX: Planned[] = [
  FOUND,
  { path: '/user/999', status: 404 },
  { path: '/user/abc', status: 400 },
  { path: '/user/42', status: 200 },
];
/** What api_user_requests_total{outcome} counts for each gateway status. */
const OUTCOME: Record<number, string> = {
  200: 'found',
  404: 'not_found',
  400: 'invalid',
  502: 'upstream_error',
  504: 'timeout',
};
/**
 * Every request this file sends itself (not the traffic generator's). The counter check counts them
 * before the incident starts.
 */
const calls: Call[] = [];

async function call(planned: Planned): Promise<Call> {
  const at = Date.now();
  let answered = 0;
  let traceId = '';
  try {
    const response = await fetch(`${need(gateway, 'api-gateway').url}${planned.path}`, {
      signal: AbortSignal.timeout(10_000),
    });
    await response.arrayBuffer();
    answered = response.status;
    traceId =
      /^00-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(
        response.headers.get('traceresponse') ?? '',
      )?.[1] ?? '';
  } catch {
    // answered stays 0: a failed request
  }
  const result: Call = { ...planned, answered, traceId, at, doneAt: Date.now() };
  calls.push(result);
  return result;
}

// ---------------------------------------------------------------------------------------------------
// Checks shared by several tests

/** The spans of a trace once Tempo has spans of every service in `services`. */
async function traceWithServices(
  traceId: string,
  services: readonly string[],
  timeoutMs: number,
): Promise<TempoSpan[]> {
  return eventually(
    `Tempo GET /api/traces/${traceId}: spans of ${services.join(' and ')}`,
    async (note) => {
      const trace = await tempo().trace(traceId);
      if (!trace) {
        note('HTTP 404 (trace not found yet)');
        return undefined;
      }
      const seen = new Set(trace.spans.map((s) => s.service));
      note(`${trace.spans.length} spans of ${[...seen].join(', ')}: ${excerpt(trace.raw, 300)}`);
      return services.every((s) => seen.has(s)) ? trace.spans : undefined;
    },
    timeoutMs,
  );
}

function recordsOf(service: ServiceProcess, traceId: string): LogRecordJson[] {
  return service.records.filter((r) => r.trace_id === traceId);
}

/** The log lines Loki holds for `{service_name="<service>"} | trace_id="<id>"`. */
async function lokiLinesOfTrace(
  service: string,
  traceId: string,
  around: number,
): Promise<string[]> {
  const result = await loki().queryRange(
    `{service_name="${service}"} | trace_id="${traceId}"`,
    around - 120_000,
    Date.now() + 60_000,
  );
  return lokiEntries(result).map((e) => e.line);
}

/**
 * Loki returns exactly the records the service wrote to stdout for the trace (same messages, each
 * once). Waits for the service's own stdout record first.
 */
async function assertLogsOnce(
  service: ServiceProcess,
  traceId: string,
  around: number,
  timeoutMs: number,
): Promise<string[]> {
  await service.waitForRecord((r) => r.trace_id === traceId, 10_000);
  const query = `{service_name="${service.name}"} | trace_id="${traceId}"`;
  const lines = await eventually(
    `Loki query_range ${query}`,
    async (note) => {
      const expected = recordsOf(service, traceId).length;
      const got = await lokiLinesOfTrace(service.name, traceId, around);
      note(`${got.length} of ${expected} lines: ${excerpt(got)}`);
      return got.length >= expected ? got : undefined;
    },
    timeoutMs,
  );
  const expected = recordsOf(service, traceId).map((r) => r.msg);
  assert.deepEqual(
    [...lines].sort(),
    [...expected].sort(),
    `Loki ${query}: the lines must be the records ${service.name} wrote to stdout, each once`,
  );
  return lines;
}

/** Traces whose logs were checked once each; checked again at the end for late duplicates. */
const logChecks: { service: ServiceProcess; traceId: string; around: number; lines: string[] }[] =
  [];

// ---------------------------------------------------------------------------------------------------
// The incident (issue 6): scenario 2's staged failure, then the traffic generator's incident scenario.

interface Incident {
  /** Trace of the 502 staged as in walkthrough scenario 2. */
  stagedTraceId: string;
  generator: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
}
let incident: Promise<Incident> | undefined;

async function faultsRequest(method: 'PUT' | 'DELETE', body?: unknown): Promise<void> {
  const response = await fetch(`${need(userService, 'user-service').url}/admin/faults`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(5_000),
  });
  const text = await response.text();
  assert.equal(response.status, 200, `${method} /admin/faults: ${text}`);
}

/** Starts the incident once (idempotent): the pipeline suite starts it right after its counter check. */
function startIncident(): Promise<Incident> {
  incident ??= (async () => {
    // Walkthrough scenario 2: every query fails, one call to the gateway (502), faults off again.
    await faultsRequest('PUT', { errorRate: 1 });
    const staged = await call(FOUND);
    await faultsRequest('DELETE');
    assert.equal(staged.answered, 502, 'with errorRate 1 the gateway answers 502');
    assert.match(staged.traceId, /^[0-9a-f]{32}$/, 'the 502 carries a traceresponse header');

    const args = [
      join(repoRoot, 'services', 'traffic-generator', 'src', 'cli.ts'),
      '--scenario',
      'incident',
      '--duration',
      String(INCIDENT_SECONDS),
      '--rate',
      String(INCIDENT_RATE),
      '--latency-ms',
      String(INCIDENT_LATENCY_MS),
      '--gateway-url',
      need(gateway, 'api-gateway').url,
      '--user-service-url',
      need(userService, 'user-service').url,
    ];
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([key]) => !key.startsWith('TRAFFIC_')),
    );
    const generator = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const output: string[] = [];
    generator.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
    generator.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => generator.once('close', resolve));
    // The after hook stops it; this covers a test process that exits without running hooks.
    const kill = (): void => {
      generator.kill('SIGKILL');
    };
    process.once('exit', kill);
    void exited.then(() => process.removeListener('exit', kill));
    return { stagedTraceId: staged.traceId, generator, output, exited };
  })();
  return incident;
}

// ---------------------------------------------------------------------------------------------------
// Stack lifecycle

before(
  async () => {
    if (skipReason) return;
    for (const name of STACK_TOOLS) requireTool(name);
    stack = await startLocalStack();
    timings.stackReadyS = seconds(Date.now() - startedAt);
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: stack.urls.otlpGrpc };
    const userPort = await freePort();
    const started = await Promise.allSettled([
      startService('user-service', env, { port: userPort }),
      startService('api-gateway', { ...env, USER_SERVICE_URL: `http://127.0.0.1:${userPort}` }),
    ]);
    if (started[0].status === 'fulfilled') userService = started[0].value;
    if (started[1].status === 'fulfilled') gateway = started[1].value;
    for (const result of started) if (result.status === 'rejected') throw result.reason;
    timings.servicesReadyS = seconds(Date.now() - startedAt);
  },
  { timeout: 240_000 },
);

after(
  async () => {
    const running = await incident?.catch(() => undefined);
    if (running && running.generator.exitCode === null) running.generator.kill('SIGKILL');
    await Promise.allSettled([gateway?.stop(5_000), userService?.stop(5_000)]);
    await stack?.stop();
  },
  { timeout: 60_000 },
);

// ---------------------------------------------------------------------------------------------------
// Suite 1: the pipeline

describe(
  'e2e pipeline: services -> collector -> Tempo, Loki, Prometheus',
  { skip: skipReason },
  () => {
    let first: Call | undefined;
    let collectorDown: { stoppedAt: number; startedAt: number } | undefined;
    let earlyProbes:
      | { probes: Call[]; landed: (probe: Call) => Promise<{ ok: boolean; state: string }> }
      | undefined;
    const firstCall = (): Call => need(first, 'the first request');

    test('GET /user/123 through the gateway answers 200 with a traceresponse header', async () => {
      first = await call(FOUND);
      assert.equal(first.answered, 200);
      assert.match(first.traceId, /^[0-9a-f]{32}$/);
    });

    test('Tempo: GET /api/traces/<id> of that request holds spans of api-gateway and user-service', async (t) => {
      const spans = await traceWithServices(
        firstCall().traceId,
        ['api-gateway', 'user-service'],
        60_000,
      );
      const servers = spans.filter((s) => s.kind === 'SPAN_KIND_SERVER');
      assert.ok(
        servers.some((s) => s.service === 'api-gateway' && s.name === 'GET /user/:id'),
        `api-gateway SERVER span GET /user/:id: ${JSON.stringify(servers.map((s) => [s.service, s.name]))}`,
      );
      assert.ok(
        servers.some((s) => s.service === 'user-service' && s.name === 'GET /users/:id'),
        'user-service SERVER span GET /users/:id',
      );
      t.diagnostic(
        `trace ${firstCall().traceId}: ${spans.length} spans (${spans.map((s) => `${s.service}:${s.name}`).join(', ')}), ` +
          `in Tempo ${seconds(Date.now() - firstCall().doneAt)}s after the response`,
      );
    });

    for (const service of ['api-gateway', 'user-service']) {
      const traceql = `{ resource.service.name = "${service}" }`;
      test(`Tempo: TraceQL search ${traceql} finds that trace`, async () => {
        const { traceId, at, doneAt } = firstCall();
        await eventually(
          `Tempo /api/search?q=${traceql} (trace ${traceId})`,
          async (note) => {
            const traces = await tempo().search(traceql, at / 1000 - 2, doneAt / 1000 + 2, 1000);
            note(`${traces.length} traces: ${excerpt(traces.map((x) => x.traceID))}`);
            return traces.some((x) => x.traceID === traceId) ? true : undefined;
          },
          60_000,
        );
      });
    }

    for (const name of ['api-gateway', 'user-service'] as const) {
      test(`Loki: {service_name="${name}"} | trace_id="<id>" returns that request's records, once each`, async (t) => {
        const service = need(name === 'api-gateway' ? gateway : userService, name);
        const { traceId, at } = firstCall();
        const lines = await assertLogsOnce(service, traceId, at, 60_000);
        logChecks.push({ service, traceId, around: at, lines });
        t.diagnostic(`${lines.length} line(s): ${JSON.stringify(lines)}`);
      });
    }

    test('faults: the collector stopped and started during traffic; every request answers as expected', async (t) => {
      const loopCalls: Call[] = [];
      let stopLoop = false;
      let next = 0;
      const loop = (async () => {
        while (!stopLoop) {
          loopCalls.push(await call(MIX[next++ % MIX.length] as Planned));
          await sleep(50); // pacing of the traffic, not a wait for a condition
        }
      })();
      const waitForCalls = (count: number, phase: string, notBefore = 0) =>
        poll(
          `${count} requests ${phase}`,
          async (note) => {
            note(`${loopCalls.length} requests`);
            return loopCalls.length >= count && Date.now() >= notBefore ? true : undefined;
          },
          { timeoutMs: 30_000, intervalMs: 50 },
        );
      let downCalls: number | undefined;
      try {
        await waitForCalls(10, 'before the collector stops');
        const stoppedAt = Date.now();
        await theStack().stopProcess('otelcol');
        const atStop = loopCalls.length;
        // Down long enough for every SDK exporter (traces and logs every 100 ms, metrics every
        // 500 ms) to fail several exports and for gRPC to back off reconnecting.
        await waitForCalls(
          atStop + 12,
          'while the collector is down',
          stoppedAt + COLLECTOR_DOWN_MS,
        );
        await theStack().startProcess('otelcol');
        collectorDown = { stoppedAt, startedAt: Date.now() };
        downCalls = loopCalls.length - atStop;
        await waitForCalls(loopCalls.length + 10, 'after the collector started again');
      } finally {
        stopLoop = true;
        await loop;
      }
      const wrong = loopCalls.filter((c) => c.answered !== c.status);
      assert.deepEqual(wrong, [], 'every request answers its expected status, collector or not');
      t.diagnostic(
        `${loopCalls.length} requests, ${downCalls} of them while the collector was down for ` +
          `${seconds(need(collectorDown, 'collector restart').startedAt - need(collectorDown, 'collector restart').stoppedAt)}s: ` +
          'all answered as expected',
      );
    });

    test('faults: telemetry sent after the collector restart lands in Tempo and Loki', async (t) => {
      const restart = need(collectorDown, 'the collector restart (previous test)');
      const gw = need(gateway, 'api-gateway');
      const us = need(userService, 'user-service');
      // The SDK exporters reconnect with gRPC backoff: find when the pipeline works again (a request
      // whose trace reached Tempo and whose logs reached Loki), then prove that a request sent after
      // that lands completely.
      const probes: Call[] = [];
      const landed = async (probe: Call): Promise<{ ok: boolean; state: string }> => {
        const trace = await tempo().trace(probe.traceId);
        const services = new Set(trace?.spans.map((s) => s.service));
        const gwLines = await lokiLinesOfTrace('api-gateway', probe.traceId, probe.at);
        const usLines = await lokiLinesOfTrace('user-service', probe.traceId, probe.at);
        return {
          ok:
            services.has('api-gateway') &&
            services.has('user-service') &&
            gwLines.length > 0 &&
            usLines.length > 0,
          state:
            `sent +${seconds(probe.at - restart.startedAt)}s: Tempo [${[...services].join(', ')}], ` +
            `Loki lines api-gateway ${gwLines.length} user-service ${usLines.length}`,
        };
      };
      const recovered = await eventually(
        'a request after the collector restart whose trace is in Tempo and logs are in Loki',
        async (note) => {
          probes.push(await call(FOUND));
          for (const probe of probes) {
            const { ok, state } = await landed(probe);
            note(`${probes.length} probes; ${probe.traceId} ${state}`);
            if (ok) return probe;
          }
          return undefined;
        },
        90_000,
        1_000,
      );
      // Looked at again at the end of the suite: what became of the requests sent before that.
      earlyProbes = { probes: probes.filter((p) => p.at < recovered.at), landed };
      const after = await call(FOUND);
      assert.equal(after.answered, 200);
      await traceWithServices(after.traceId, ['api-gateway', 'user-service'], 30_000);
      for (const service of [gw, us]) {
        const lines = await assertLogsOnce(service, after.traceId, after.at, 30_000);
        logChecks.push({ service, traceId: after.traceId, around: after.at, lines });
      }
      t.diagnostic(
        `pipeline working again ${seconds(recovered.at - restart.startedAt)}s after the collector was ready ` +
          `(${probes.length} probe request(s); the first one sent ${seconds((probes[0]?.at ?? 0) - restart.startedAt)}s after), ` +
          `trace ${after.traceId} sent afterwards: spans of both services in Tempo, its records once each in Loki`,
      );
      timings.collectorRecoveryS = seconds(recovered.at - restart.startedAt);
    });

    test('Prometheus: api_user_requests_total by outcome equals what was sent (sum over the series)', async (t) => {
      try {
        const expected: Record<string, number> = {};
        for (const c of calls) {
          const outcome = OUTCOME[c.answered];
          assert.ok(outcome, `request ${c.path} answered ${c.answered}`);
          expected[outcome] = (expected[outcome] ?? 0) + 1;
        }
        const query = 'sum by (outcome) (api_user_requests_total{service_name="api-gateway"})';
        // The SDK counter is cumulative and survives the collector restart: the last value is the total.
        const got = await eventually(
          `Prometheus ${query} == ${JSON.stringify(expected)}`,
          async (note) => {
            const series = await prom().query(query);
            const byOutcome = Object.fromEntries(
              series.map((s) => [s.metric.outcome ?? '', Number(s.value?.[1])]),
            );
            note(JSON.stringify(byOutcome));
            return JSON.stringify(sortKeys(byOutcome)) === JSON.stringify(sortKeys(expected))
              ? byOutcome
              : undefined;
          },
          60_000,
        );
        t.diagnostic(`${query}: ${JSON.stringify(got)} (${calls.length} requests sent)`);
      } finally {
        // The incident traffic changes the counter: it starts only now, and runs while the remaining
        // checks wait for the connectors' flushes. (The query suite awaits it, and reports its errors.)
        startIncident().catch(() => undefined);
      }
    });

    test('Prometheus: http_server_request_duration_seconds_bucket exists with http_route for both services', async (t) => {
      const query =
        'count by (service_name, http_route) (http_server_request_duration_seconds_bucket{http_route!=""})';
      const got = await eventually(
        `Prometheus ${query}`,
        async (note) => {
          const series = await prom().query(query);
          const pairs = series.map((s) => `${s.metric.service_name} ${s.metric.http_route}`);
          note(JSON.stringify(pairs));
          return pairs.includes('api-gateway /user/:id') &&
            pairs.includes('user-service /users/:id')
            ? pairs
            : undefined;
        },
        30_000,
      );
      t.diagnostic(`${query}: ${JSON.stringify(got)}`);
    });

    test('Prometheus: span-derived RED metrics (traces_span_metrics_*) count both services', async (t) => {
      const query =
        'sum by (service_name, span_name) (traces_span_metrics_calls_total{span_kind="SPAN_KIND_SERVER"})';
      const got = await eventually(
        `Prometheus ${query}`,
        async (note) => {
          const series = await prom().query(query);
          const calls = Object.fromEntries(
            series.map((s) => [
              `${s.metric.service_name} ${s.metric.span_name}`,
              Number(s.value?.[1]),
            ]),
          );
          note(JSON.stringify(calls));
          return (calls['api-gateway GET /user/:id'] ?? 0) > 0 &&
            (calls['user-service GET /users/:id'] ?? 0) > 0
            ? calls
            : undefined;
        },
        60_000,
      );
      const histogram =
        'count by (service_name) (traces_span_metrics_duration_seconds_bucket{span_kind="SPAN_KIND_SERVER"})';
      const buckets = await prom().query(histogram);
      assert.deepEqual(
        buckets.map((s) => s.metric.service_name).sort(),
        ['api-gateway', 'user-service'],
        `${histogram}: ${excerpt(buckets)}`,
      );
      t.diagnostic(`${query}: ${JSON.stringify(got)}`);
    });

    test('Prometheus: service graph edge traces_service_graph_request_total{client="api-gateway",server="user-service"}', async (t) => {
      const query =
        'sum(traces_service_graph_request_total{client="api-gateway", server="user-service"})';
      const value = await eventually(
        `Prometheus ${query}`,
        async (note) => {
          const series = await prom().query(query);
          note(excerpt(series));
          const v = Number(series[0]?.value?.[1] ?? 0);
          return v > 0 ? v : undefined;
        },
        60_000,
      );
      t.diagnostic(`${query} = ${value}`);
    });

    test('Prometheus -> Tempo: an exemplar from /api/v1/query_exemplars names a trace Tempo returns', async (t) => {
      const query =
        'traces_span_metrics_duration_seconds_bucket{service_name="api-gateway", span_name="GET /user/:id"}';
      const exemplar = await eventually(
        `Prometheus /api/v1/query_exemplars ${query}`,
        async (note) => {
          const result = await prom().exemplars(query, startedAt / 1000, Date.now() / 1000);
          const all = result.flatMap((r) => r.exemplars);
          note(excerpt(result));
          return all.sort((a, b) => b.timestamp - a.timestamp)[0];
        },
        60_000,
      );
      const traceId = exemplar.labels.trace_id ?? '';
      assert.match(
        traceId,
        /^[0-9a-f]{32}$/,
        `exemplar labels: ${JSON.stringify(exemplar.labels)}`,
      );
      const spans = await traceWithServices(traceId, ['api-gateway', 'user-service'], 30_000);
      t.diagnostic(
        `exemplar ${JSON.stringify(exemplar.labels)} (value ${exemplar.value}s): Tempo returns ${spans.length} spans`,
      );
    });

    test('Loki: the records checked above are still there exactly once (no late duplicates from retries)', async (t) => {
      for (const check of logChecks) {
        const lines = await lokiLinesOfTrace(check.service.name, check.traceId, check.around);
        assert.deepEqual(
          [...lines].sort(),
          [...check.lines].sort(),
          `${check.service.name} trace ${check.traceId}`,
        );
      }
      // Not an assertion: what the SDKs lost while reconnecting after the collector restart.
      for (const probe of earlyProbes?.probes ?? []) {
        t.diagnostic(
          `request sent before the pipeline worked again: ${(await earlyProbes?.landed(probe))?.state}`,
        );
      }
    });
  },
);

function sortKeys(record: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
}

// ---------------------------------------------------------------------------------------------------
// Suite 2: every walkthrough and dashboard query, and every correlation

type Backend = 'prometheus' | 'loki' | 'tempo';
const backendOf: Record<string, Backend> = {
  promql: 'prometheus',
  logql: 'loki',
  traceql: 'tempo',
};

/** Until this time a query may still be waiting for data; after it, a query without data fails fast. */
let settleBy = 0;
const queryTimeout = (): number => Math.max(settleBy - Date.now(), 5_000);

/**
 * Runs one query the way Grafana does over the whole test window, until it returns data: PromQL as a
 * range query (at least one series with a number), LogQL with query_range (at least one line, or one
 * number for a metric query), TraceQL with /api/search (at least one trace). Returns a summary.
 */
async function runQuery(backend: Backend, query: string): Promise<string> {
  return eventually(
    `${backend}: ${query}`,
    async (note) => {
      const now = Date.now();
      if (backend === 'prometheus') {
        const series = await prom().queryRange(query, startedAt / 1000, now / 1000, 5);
        const samples = finiteSamples(series);
        note(`${series.length} series, ${samples.length} finite samples: ${excerpt(series, 300)}`);
        if (samples.length === 0) return undefined;
        return `${series.length} series, ${samples.length} samples, max ${Math.max(...samples).toPrecision(4)}`;
      }
      if (backend === 'loki') {
        const result = await loki().queryRange(query, startedAt, now, { step: '15s' });
        if (result.resultType === 'streams') {
          const entries = lokiEntries(result);
          note(`${entries.length} lines: ${excerpt(result.result, 300)}`);
          return entries.length > 0
            ? `${result.result.length} streams, ${entries.length} lines, e.g. ${JSON.stringify(entries.at(-1)?.line)}`
            : undefined;
        }
        const samples = result.result.flatMap((s) =>
          ('values' in s ? s.values : [s.value]).map(([, v]) => Number(v)),
        );
        note(`${result.result.length} series: ${excerpt(result.result, 300)}`);
        return samples.some((v) => Number.isFinite(v))
          ? `${result.result.length} series, ${samples.length} samples`
          : undefined;
      }
      const traces = await tempo().search(query, startedAt / 1000, now / 1000 + 1, 20);
      note(`${traces.length} traces`);
      return traces.length > 0
        ? `${traces.length} traces, e.g. ${traces[0]?.traceID} (${traces[0]?.rootServiceName}: ${traces[0]?.rootTraceName})`
        : undefined;
    },
    queryTimeout(),
    1_000,
  );
}

const datasources = (
  parse(
    readFileSync(join(repoRoot, 'grafana/provisioning/datasources/datasources.yaml'), 'utf8'),
  ) as { datasources: { uid: string; jsonData?: Record<string, unknown> }[] }
).datasources;
/** A provisioned string as Grafana sees it: `$$` is the escaped `$` of Grafana's env expansion. */
const unescape = (value: string): string => value.split('$$').join('$');
function jsonDataOf(uid: string): Record<string, unknown> {
  const ds = datasources.find((d) => d.uid === uid);
  assert.ok(ds?.jsonData, `data source ${uid} with jsonData in datasources.yaml`);
  return ds.jsonData;
}

/** The values of a dashboard's `service` variable, from the real Prometheus (cached per file). */
const serviceValueCache = new Map<string, Promise<string[]>>();
function dashboardServices(file: string): Promise<string[]> {
  let values = serviceValueCache.get(file);
  if (!values) {
    const dashboard = loadDashboards().find((d) => d.file === file)?.dashboard;
    const variable = dashboard ? variables(dashboard).find((v) => v.name === 'service') : undefined;
    const raw = typeof variable?.query === 'string' ? variable.query : variable?.query?.query;
    const parsed = parseLabelValues(interpolate(raw ?? '', { environment: ENVIRONMENT }));
    values = (async () => {
      assert.ok(parsed, `${file}: $service is label_values(<selector>, <label>)`);
      return eventually(
        `Prometheus label values ${parsed.label} of ${parsed.selector}`,
        async (note) => {
          const got = await prom().labelValues(
            parsed.label,
            parsed.selector,
            startedAt / 1000,
            Date.now() / 1000,
          );
          note(JSON.stringify(got));
          return got.includes('api-gateway') && got.includes('user-service') ? got : undefined;
        },
        queryTimeout(),
      );
    })();
    serviceValueCache.set(file, values);
  }
  return values;
}

const walkthrough = walkthroughQueries();
const dashboardQueries = allDashboardQueries();
let stagedTrace: { traceId: string; spans: TempoSpan[] } | undefined;

describe(
  'e2e queries: walkthrough and dashboards return data after traffic and the incident',
  { skip: skipReason },
  () => {
    before(
      async () => {
        const running = await startIncident();
        const code = await running.exited;
        const output = running.output.join('');
        assert.equal(code, 0, `traffic generator exited with ${code}:\n${output}`);
        settleBy = Date.now() + SETTLE_AFTER_INCIDENT_MS;
        timings.incidentDoneS = seconds(Date.now() - startedAt);
        const statuses = /statuses\s+(.*)/.exec(output)?.[1] ?? '';
        assert.match(statuses, /\b502:\d+/, `the incident produced 502s: ${output}`);
        console.log(
          `# incident scenario (${INCIDENT_SECONDS}s at ${INCIDENT_RATE}/s): ${statuses}`,
        );
      },
      { timeout: (INCIDENT_SECONDS + 120) * 1000 },
    );

    test('walkthrough §1: the trace of GET /user/123 shows the three tiers the walkthrough names', async (t) => {
      const { traceId } = await call(FOUND);
      const spans = await traceWithServices(traceId, ['api-gateway', 'user-service'], 30_000);
      const find = (service: string, kind: string, name: string): TempoSpan => {
        const span = spans.find((s) => s.service === service && s.kind === kind && s.name === name);
        assert.ok(
          span,
          `${service} ${kind} "${name}" in ${JSON.stringify(spans.map((s) => [s.service, s.kind, s.name]))}`,
        );
        return span;
      };
      const gwServer = find('api-gateway', 'SPAN_KIND_SERVER', 'GET /user/:id');
      const gwClient = find('api-gateway', 'SPAN_KIND_CLIENT', 'GET');
      const usServer = find('user-service', 'SPAN_KIND_SERVER', 'GET /users/:id');
      const db = find('user-service', 'SPAN_KIND_CLIENT', 'SELECT users');
      assert.equal(
        gwClient.parentSpanId,
        gwServer.spanId,
        'the CLIENT span is inside the gateway SERVER span',
      );
      assert.equal(
        usServer.parentSpanId,
        gwClient.spanId,
        'user-service continues the gateway CLIENT span',
      );
      assert.equal(
        db.parentSpanId,
        usServer.spanId,
        'the database span is inside user-service SERVER span',
      );
      assert.ok(db.attributes['db.query.text'], 'db.query.text holds the query');
      t.diagnostic(`trace ${traceId}: ${spans.length} spans`);
    });

    test('walkthrough §2: the staged 502 trace has red (error) user-service spans', async (t) => {
      const { stagedTraceId } = await startIncident();
      const spans = await traceWithServices(stagedTraceId, ['api-gateway', 'user-service'], 30_000);
      stagedTrace = { traceId: stagedTraceId, spans };
      const usServer = spans.find(
        (s) => s.service === 'user-service' && s.kind === 'SPAN_KIND_SERVER',
      );
      assert.equal(usServer?.status, 'STATUS_CODE_ERROR', 'user-service SERVER span status');
      t.diagnostic(`staged 502 trace ${stagedTraceId}`);
    });

    test('walkthrough §3: the highest exemplar of the p99 duration query opens a slow trace, its time in the database span', async (t) => {
      const p99 = walkthrough.find(
        (w) => w.section.startsWith('3.') && w.query.startsWith('histogram_quantile(0.99'),
      );
      assert.ok(p99, 'scenario 3 shows the p99 duration query');
      const exemplar = await eventually(
        `Prometheus /api/v1/query_exemplars ${p99.query}: an exemplar of at least ${INCIDENT_LATENCY_MS} ms`,
        async (note) => {
          const result = await prom().exemplars(p99.query, startedAt / 1000, Date.now() / 1000);
          const all = result
            .flatMap((r) => r.exemplars)
            .sort((a, b) => Number(b.value) - Number(a.value));
          note(`${all.length} exemplars, highest ${excerpt(all[0] ?? 'none')}`);
          return all[0] && Number(all[0].value) >= INCIDENT_LATENCY_MS / 1000 ? all[0] : undefined;
        },
        queryTimeout(),
      );
      const traceId = exemplar.labels.trace_id ?? '';
      const spans = await traceWithServices(traceId, ['api-gateway', 'user-service'], 30_000);
      const db = spans.find((s) => s.service === 'user-service' && s.name === 'SELECT users');
      assert.ok(db, `database span in ${JSON.stringify(spans.map((s) => s.name))}`);
      assert.ok(
        db.endMs - db.startMs >= INCIDENT_LATENCY_MS,
        `the database span takes the injected ${INCIDENT_LATENCY_MS} ms: ${db.endMs - db.startMs} ms`,
      );
      t.diagnostic(
        `exemplar ${exemplar.value}s -> trace ${traceId}: database span ${db.endMs - db.startMs} ms`,
      );
    });

    for (const item of walkthrough) {
      const section = /^(\d+)\./.exec(item.section)?.[1] ?? item.section;
      test(`walkthrough §${section} ${item.language} (line ${item.line}): ${item.query}`, async (t) => {
        t.diagnostic(await runWalkthroughQuery(item));
      });
    }

    for (const q of dashboardQueries) {
      test(`dashboard ${q.file} › ${q.panel} [${q.refId}] ${q.language}: ${q.query || 'Grafana service map queries'}`, async (t) => {
        await runDashboardQuery(t, q);
      });
    }

    test('correlation Loki -> Tempo: derived field (trace_id) of error log lines opens their traces', async (t) => {
      const lokiConfig = jsonDataOf('loki');
      const field = (lokiConfig.derivedFields as Record<string, string>[] | undefined)?.[0];
      assert.ok(field, 'a derived field on the Loki data source');
      assert.equal(field.datasourceUid, 'tempo');
      assert.equal(
        field.matcherType,
        'label',
        'the trace id is a structured-metadata label, not text',
      );
      for (const service of ['api-gateway', 'user-service']) {
        const query = `{service_name="${service}"} | severity_number >= 17`;
        const entry = await eventually(
          `Loki ${query} (categorized labels, as Grafana asks)`,
          async (note) => {
            const result = await loki().queryRange(query, startedAt, Date.now(), {
              categorize: true,
            });
            const entries = lokiEntries(result);
            note(excerpt(result, 400));
            return entries.at(-1);
          },
          queryTimeout(),
        );
        // OTLP logs: the trace id is structured metadata of the record (not an index label, not text).
        const value: string | undefined = entry.metadata[field.matcherRegex ?? ''];
        assert.match(
          value ?? '',
          /^[0-9a-f]{32}$/,
          `structured metadata ${field.matcherRegex} of ${JSON.stringify(entry)}`,
        );
        const link: string = unescape(field.url ?? '').replace('${__value.raw}', value ?? '');
        assert.equal(link, value, 'the internal link query is the trace id itself');
        const spans = await traceWithServices(link, [service], 30_000);
        t.diagnostic(
          `${service}: line ${JSON.stringify(entry.line)} ${field.matcherRegex}=${value} -> Tempo trace with ${spans.length} spans`,
        );
      }
    });

    test('correlation Tempo -> Loki: tracesToLogsV2 query with a real span returns its logs', async (t) => {
      const config = jsonDataOf('tempo').tracesToLogsV2 as Record<string, string>;
      assert.equal(config.datasourceUid, 'loki');
      const trace = need(stagedTrace, 'the staged 502 trace (walkthrough §2 test)');
      for (const service of ['api-gateway', 'user-service']) {
        const span = trace.spans.find(
          (s) => s.service === service && s.kind === 'SPAN_KIND_SERVER',
        );
        assert.ok(span, `${service} SERVER span in trace ${trace.traceId}`);
        const query = spanTemplate(unescape(config.query ?? ''), span);
        const lines = await eventually(
          `Loki ${query}`,
          async (note) => {
            const result = await loki().queryRange(
              query,
              span.startMs + shiftMs(config.spanStartTimeShift),
              span.endMs + shiftMs(config.spanEndTimeShift),
            );
            const entries = lokiEntries(result);
            note(excerpt(result, 300));
            return entries.length > 0 ? entries.map((e) => e.line) : undefined;
          },
          queryTimeout(),
        );
        t.diagnostic(`${service} span ${span.spanId}: ${query} -> ${JSON.stringify(lines)}`);
      }
    });

    test('correlation Tempo -> Prometheus: tracesToMetrics queries with a real span return data', async (t) => {
      const config = jsonDataOf('tempo').tracesToMetrics as {
        datasourceUid: string;
        spanStartTimeShift?: string;
        spanEndTimeShift?: string;
        tags: { key: string; value: string }[];
        queries: { name: string; query: string }[];
      };
      assert.equal(config.datasourceUid, 'prometheus');
      const trace = need(stagedTrace, 'the staged 502 trace (walkthrough §2 test)');
      for (const service of ['api-gateway', 'user-service']) {
        const span = trace.spans.find(
          (s) => s.service === service && s.kind === 'SPAN_KIND_SERVER',
        );
        assert.ok(span, `${service} SERVER span`);
        // Grafana replaces $__tags with label="value" for each configured tag the span has.
        const tags = config.tags
          .map((tag) => `${tag.value}="${String(span.attributes[tag.key])}"`)
          .join(', ');
        for (const q of config.queries) {
          const query = unescape(q.query).replaceAll('$__tags', tags);
          const summary = await eventually(
            `Prometheus ${query}`,
            async (note) => {
              const end = Math.min(span.endMs + shiftMs(config.spanEndTimeShift), Date.now());
              const series = await prom().queryRange(
                query,
                (span.startMs + shiftMs(config.spanStartTimeShift)) / 1000,
                end / 1000,
                5,
              );
              note(excerpt(series, 300));
              const samples = finiteSamples(series);
              return samples.length > 0
                ? `${series.length} series, ${samples.length} samples`
                : undefined;
            },
            queryTimeout(),
          );
          t.diagnostic(`${service} "${q.name}": ${query} -> ${summary}`);
        }
      }
    });

    for (const q of dashboardQueries.filter((d) => d.exemplar)) {
      test(`correlation Prometheus -> Tempo: exemplars of ${q.file} › ${q.panel} [${q.refId}] name traces Tempo returns`, async (t) => {
        const destination = (
          jsonDataOf('prometheus').exemplarTraceIdDestinations as Record<string, string>[]
        )[0];
        assert.equal(destination?.datasourceUid, 'tempo');
        const label = destination?.name ?? '';
        for (const service of await dashboardServices(q.file)) {
          const query = interpolate(q.query, { service, environment: ENVIRONMENT });
          const exemplar = await eventually(
            `Prometheus /api/v1/query_exemplars ${query}`,
            async (note) => {
              const result = await prom().exemplars(query, startedAt / 1000, Date.now() / 1000);
              note(excerpt(result, 300));
              return result
                .flatMap((r) => r.exemplars)
                .sort((a, b) => b.timestamp - a.timestamp)[0];
            },
            queryTimeout(),
          );
          const traceId = exemplar.labels[label] ?? '';
          assert.match(
            traceId,
            /^[0-9a-f]{32}$/,
            `exemplar label ${label}: ${JSON.stringify(exemplar)}`,
          );
          const spans = await traceWithServices(traceId, [service], 30_000);
          t.diagnostic(
            `${service}: exemplar ${label}=${traceId} (${exemplar.value}s) -> ${spans.length} spans`,
          );
        }
      });
    }

    test('report: e2e wall time and peak RSS of each backend', (t) => {
      const rss = theStack().peakRssKiB();
      for (const [name, kib] of Object.entries(rss)) {
        t.diagnostic(`peak RSS ${name}: ${Math.round((kib ?? 0) / 1024)} MiB (VmHWM ${kib} kB)`);
      }
      for (const service of [gateway, userService]) {
        const kib = service?.pid ? vmHwm(service.pid) : undefined;
        if (service && kib) t.diagnostic(`peak RSS ${service.name}: ${Math.round(kib / 1024)} MiB`);
      }
      timings.totalS = seconds(Date.now() - startedAt);
      t.diagnostic(`timings (seconds since the file started): ${JSON.stringify(timings)}`);
      assert.ok(
        Object.keys(rss).length === 4 || process.platform !== 'linux',
        'VmHWM of the four backends',
      );
    });
  },
);

function vmHwm(pid: number): number | undefined {
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match?.[1] ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Grafana's time shift strings ('-1m', '5m', '30s') in milliseconds. */
function shiftMs(shift: string | undefined): number {
  if (!shift) return 0;
  const match = /^(-?)(\d+)(ms|s|m|h)$/.exec(shift.trim());
  assert.ok(match, `time shift ${shift}`);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[match[3] as 'ms' | 's' | 'm' | 'h'];
  return (match[1] === '-' ? -1 : 1) * Number(match[2]) * unit;
}

/** ${__span.traceId}, ${__span.spanId}, ${__span.tags["key"]} of Grafana's trace-to-logs links. */
function spanTemplate(template: string, span: TempoSpan): string {
  const out = template
    .replaceAll('${__span.traceId}', span.traceId)
    .replaceAll('${__span.spanId}', span.spanId)
    .replace(/\$\{__span\.tags\["([^"]+)"\]\}/g, (_m, key: string) => {
      const value = span.attributes[key];
      assert.ok(value !== undefined, `span attribute ${key}`);
      return String(value);
    });
  assert.ok(!out.includes('${'), `every macro substituted: ${out}`);
  return out;
}

async function runWalkthroughQuery(item: WalkthroughQuery): Promise<string> {
  const backend = backendOf[item.language] as Backend;
  let query = item.query;
  if (query.includes(TRACE_ID_PLACEHOLDER)) {
    // The reader pastes the trace id of the 502 staged in scenario 2.
    query = query.replaceAll(TRACE_ID_PLACEHOLDER, (await startIncident()).stagedTraceId);
  }
  return `${query} -> ${await runQuery(backend, query)}`;
}

const datasourceOfBackend: Record<Backend, string> = {
  prometheus: 'prometheus',
  loki: 'loki',
  tempo: 'tempo',
};

async function runDashboardQuery(t: TestContext, q: DashboardQuery): Promise<void> {
  if (q.panelType === 'variable') {
    const parsed = parseLabelValues(interpolate(q.query, { environment: ENVIRONMENT }));
    assert.ok(parsed, `variable $${q.refId}: label_values(<selector>, <label>)`);
    const expected = q.refId === 'environment' ? [ENVIRONMENT] : ['api-gateway', 'user-service'];
    const got = await eventually(
      `Prometheus /api/v1/label/${parsed.label}/values?match[]=${parsed.selector}`,
      async (note) => {
        const values = await prom().labelValues(
          parsed.label,
          parsed.selector,
          startedAt / 1000,
          Date.now() / 1000,
        );
        note(JSON.stringify(values));
        return expected.every((v) => values.includes(v)) ? values : undefined;
      },
      queryTimeout(),
    );
    t.diagnostic(`$${q.refId} = ${JSON.stringify(got)}`);
    return;
  }
  if (q.language === 'tempo-service-map') {
    // What Grafana's Tempo data source asks the Prometheus of its serviceMap setting for a service map
    // (public/app/plugins/datasource/tempo): per-edge rates of these metrics over the time range.
    const serviceMap = jsonDataOf('tempo').serviceMap as { datasourceUid?: string } | undefined;
    assert.equal(serviceMap?.datasourceUid, 'prometheus', 'Tempo serviceMap -> prometheus');
    const range = `${Math.ceil((Date.now() - startedAt) / 1000)}s`;
    const queries = [
      `sum by (client, server) (rate(traces_service_graph_request_total[${range}]))`,
      `sum by (client, server) (rate(traces_service_graph_request_failed_total[${range}]))`,
      `sum by (client, server) (rate(traces_service_graph_request_server_seconds_sum[${range}]))`,
      `histogram_quantile(0.9, sum by (le, client, server) (rate(traces_service_graph_request_server_seconds_bucket[${range}])))`,
    ];
    for (const query of queries) {
      await t.test(query, async (st) => {
        const edges = await eventually(
          `Prometheus ${query}: edge api-gateway -> user-service`,
          async (note) => {
            const series = await prom().query(query);
            note(excerpt(series, 400));
            const edge = series.find(
              (s) => s.metric.client === 'api-gateway' && s.metric.server === 'user-service',
            );
            return edge && Number.isFinite(Number(edge.value?.[1])) && Number(edge.value?.[1]) > 0
              ? series.map((s) => `${s.metric.client} -> ${s.metric.server}: ${s.value?.[1]}`)
              : undefined;
          },
          queryTimeout(),
        );
        st.diagnostic(edges.join('; '));
      });
    }
    return;
  }
  const backend = backendOf[q.language] as Backend;
  assert.equal(q.datasourceUid, datasourceOfBackend[backend], 'data source of the target');
  const services = variablesUsed(q.query).includes('service')
    ? await dashboardServices(q.file)
    : [undefined];
  for (const service of services) {
    const values: Record<string, string> = { environment: ENVIRONMENT };
    if (service) values.service = service;
    const query = interpolate(q.query, values);
    await t.test(service ? `$service=${service}: ${query}` : query, async (st) => {
      st.diagnostic(await runQuery(backend, query));
    });
  }
}
