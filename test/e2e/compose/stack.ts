// The compose stack that test/e2e/compose-stack.test.ts brings up once, and what every subject module
// of that file shares: the ports docker-compose.yaml publishes, the Prometheus API, what the Tempo and
// Loki stand-ins received, the requests sent and the incident scenario. The test file owns the stack's
// lifecycle (setStack in its before hook, down in its after hook); the modules only read it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { excerpt, finiteSamples, poll, PrometheusApi } from '../../support/backend-api.ts';
import { ComposeStack, engineAnswers } from '../../support/compose-stack.ts';
import { composeFile } from '../../support/compose-override.ts';
import type { ReceivedLog, ReceivedSpan } from '../../support/otlp-receiver.ts';
import { logsOf, spansOf } from '../../support/otlp-json.ts';
import { lokiEntry, type LokiEntry } from '../../support/query-contract.ts';
import { findTool, inCI } from '../../support/tools.ts';
import { repoRoot } from '../../support/versions.ts';

/** deployment.environment.name that docker-compose.yaml gives the services. */
export const ENVIRONMENT = 'compose';
export const INCIDENT_SECONDS = 30;
export const INCIDENT_RATE = 10;
export const INCIDENT_LATENCY_MS = 300;
/** After the incident: the services push metrics every 10 s, the connectors flush every 15 s. */
export const SETTLE_AFTER_INCIDENT_MS = 75_000;
export const serviceValues = ['api-gateway', 'user-service'];

export interface BaseService {
  image?: string;
  build?: unknown;
  restart?: string;
  user?: string;
  read_only?: boolean;
  ports?: string[];
  healthcheck?: unknown;
  depends_on?: Record<string, { condition: string }>;
  profiles?: string[];
}
export const baseServices = (
  parse(readFileSync(composeFile, 'utf8')) as { services: Record<string, BaseService> }
).services;
/** The services `up` starts (not those behind a profile). */
export const upServices = Object.entries(baseServices).filter(([, s]) => !s.profiles?.length);
/** One-shot jobs (no restart policy): they run to completion before what depends on them starts. */
export const isOneShot = (service: BaseService): boolean => service.restart === undefined;
const hostPort = (name: string, containerPort: number): number => {
  const binding = (baseServices[name]?.ports ?? []).find((p) => p.endsWith(`:${containerPort}`));
  assert.ok(binding, `docker-compose.yaml publishes ${name}:${containerPort}`);
  return Number(binding.split(':').at(-2));
};
const gatewayUrl = `http://127.0.0.1:${hostPort('api-gateway', 8080)}`;
const userServiceUrl = `http://127.0.0.1:${hostPort('user-service', 8081)}`;
export const prom = new PrometheusApi(`http://127.0.0.1:${hostPort('prometheus', 9090)}`);

// Whether the engine and the compose CLI are there: outside CI their absence skips loudly, under CI
// the before hook fails (and with it every test).
export const composeBin = findTool('docker-compose');
export const engineUp = await engineAnswers();
export const skipReason =
  !inCI && (!composeBin || !engineUp)
    ? `${!engineUp ? 'no Docker engine answers (bash scripts/docker-engine.sh start)' : ''}${
        !composeBin ? ' docker-compose not installed (bash scripts/install-tools.sh compose)' : ''
      }`.trim()
    : undefined;

export const startedAt = Date.now();
export const timings: Record<string, number> = {};
export const seconds = (ms: number): number => Math.round(ms / 100) / 10;

let stack: ComposeStack | undefined;
export const setStack = (up: ComposeStack): void => {
  stack = up;
};
export const currentStack = (): ComposeStack | undefined => stack;
export const theStack = (): ComposeStack => {
  assert.ok(stack, 'the compose stack is up (the before hook failed)');
  return stack;
};

export function eventually<T>(
  what: string,
  attempt: (note: (last: string) => void) => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 1_000,
): Promise<T> {
  return poll(what, attempt, { timeoutMs, intervalMs });
}

// What the stand-ins received, re-read on every call (the file exporter appends).
export const tempoSpans = (): ReceivedSpan[] => spansOf(theStack().records('tempo-traces.jsonl'));
export const lokiLogs = (): ReceivedLog[] => logsOf(theStack().records('loki-logs.jsonl'));
const lokiIndexAttributes = (
  parse(readFileSync(join(repoRoot, 'backends', 'loki.yaml'), 'utf8')) as {
    distributor: { otlp_config: { default_resource_attributes_as_index_labels: string[] } };
  }
).distributor.otlp_config.default_resource_attributes_as_index_labels;
export const lokiEntries = (): LokiEntry[] =>
  lokiLogs().map((l) => lokiEntry(l, lokiIndexAttributes));

export const serviceOf = (span: ReceivedSpan): string => String(span.resource['service.name']);

/** Waits for a trace in the Tempo stand-in: the gateway's tail sampling decides 10 s after a trace's
 * first span, so traces land later than the metrics and logs of the same requests. */
export async function traceLanded(traceId: string, timeoutMs = 30_000): Promise<ReceivedSpan[]> {
  return eventually(
    `Tempo stand-in: trace ${traceId}`,
    async () => {
      const spans = tempoSpans().filter((s) => s.traceId === traceId);
      return spans.length > 0 ? spans : undefined;
    },
    timeoutMs,
    250,
  );
}

/** Waits for a trace in the Tempo stand-in with spans of each of `services`. */
export async function traceWithServices(
  traceId: string,
  timeoutMs = 30_000,
  services: readonly string[] = serviceValues,
): Promise<ReceivedSpan[]> {
  return eventually(
    `Tempo stand-in: trace ${traceId} with spans of ${services.join(' and ')}`,
    async (note) => {
      const spans = tempoSpans().filter((s) => s.traceId === traceId);
      const seen = new Set(spans.map(serviceOf));
      note(`${spans.length} spans of ${[...seen].join(', ')}`);
      return services.every((s) => seen.has(s)) ? spans : undefined;
    },
    timeoutMs,
    250,
  );
}

// ---------------------------------------------------------------------------------------------------
// Requests

export interface Call {
  path: string;
  answered: number;
  traceId: string;
}
export const FOUND = '/user/123';
export const MIX = [FOUND, '/user/999', '/user/abc', '/user/42'];
export const OUTCOME: Record<number, string> = {
  200: 'found',
  404: 'not_found',
  400: 'invalid',
  502: 'upstream_error',
  504: 'timeout',
};
/** The requests the test sends itself (the counter check counts them, before the incident). */
export const calls: Call[] = [];

export async function call(path: string): Promise<Call> {
  let answered = 0;
  let traceId = '';
  try {
    const response = await fetch(`${gatewayUrl}${path}`, { signal: AbortSignal.timeout(15_000) });
    await response.arrayBuffer();
    answered = response.status;
    traceId =
      /^00-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(
        response.headers.get('traceresponse') ?? '',
      )?.[1] ?? '';
  } catch {
    // answered stays 0
  }
  const result = { path, answered, traceId };
  calls.push(result);
  return result;
}

export async function faults(method: 'PUT' | 'DELETE', body?: unknown): Promise<void> {
  const response = await fetch(`${userServiceUrl}/admin/faults`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(5_000),
  });
  assert.equal(response.status, 200, `${method} /admin/faults: ${await response.text()}`);
}

/** A service's stdout records (pino JSON lines) of one trace. */
export async function stdoutRecords(service: string, traceId: string): Promise<{ msg: string }[]> {
  return (await theStack().stdout(service))
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as { msg: string; trace_id?: string }];
      } catch {
        return [];
      }
    })
    .filter((r) => r.trace_id === traceId);
}

// ---------------------------------------------------------------------------------------------------
// The staged 502 and the incident (once, whichever test needs it first)

export interface Incident {
  stagedTraceId: string;
  output: string;
  doneAt: number;
}
let incident: Promise<Incident> | undefined;
export function runIncident(): Promise<Incident> {
  incident ??= (async () => {
    // Walkthrough scenario 2: every query fails, one call (502), faults off again.
    await faults('PUT', { errorRate: 1 });
    const staged = await call(FOUND);
    await faults('DELETE');
    assert.equal(staged.answered, 502, 'with errorRate 1 the gateway answers 502');
    // The traffic generator's incident scenario, as the compose file runs it (service traffic-generator).
    const output = await theStack().must(
      [
        'run',
        '--rm',
        '--no-deps',
        'traffic-generator',
        '--scenario',
        'incident',
        '--duration',
        String(INCIDENT_SECONDS),
        '--rate',
        String(INCIDENT_RATE),
        '--latency-ms',
        String(INCIDENT_LATENCY_MS),
      ],
      (INCIDENT_SECONDS + 120) * 1000,
    );
    return { stagedTraceId: staged.traceId, output, doneAt: Date.now() };
  })();
  return incident;
}

// ---------------------------------------------------------------------------------------------------
// After the incident: queries wait until the data has settled, then fail at once.

let settleBy = 0;
/** Called when the incident is over: from then on the queries have until the data has settled. */
export const settleFromNow = (): void => {
  settleBy = Date.now() + SETTLE_AFTER_INCIDENT_MS;
};
export const settleDeadline = (): number => settleBy;
export const queryTimeout = (): number => Math.max(settleBy - Date.now(), 10_000);

/** The dashboards' variables as Grafana sets them on this stack. */
export const values = (service?: string): Record<string, string> => ({
  environment: ENVIRONMENT,
  ...(service ? { service } : {}),
});

export async function promData(query: string): Promise<string> {
  return eventually(
    `Prometheus ${query}`,
    async (note) => {
      const series = await prom.queryRange(query, startedAt / 1000, Date.now() / 1000, 5);
      const samples = finiteSamples(series);
      note(`${series.length} series, ${samples.length} samples: ${excerpt(series, 300)}`);
      return samples.length > 0
        ? `${series.length} series, ${samples.length} samples, max ${Math.max(...samples).toPrecision(4)}`
        : undefined;
    },
    queryTimeout(),
  );
}
