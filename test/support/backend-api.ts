// Queries Prometheus, Loki and Tempo through their own HTTP APIs (what Grafana's data sources call),
// and polls with a deadline: telemetry reaches the backends asynchronously (SDK batches, collector
// batches and connector flushes), so every check retries until its data is there or its deadline
// passes, and then fails with the backend, the query and the last response.
import { setTimeout as sleep } from 'node:timers/promises';

/** A value, or `undefined` to try again; `note` records what the last attempt saw (for the error). */
export type Attempt<T> = (note: (last: string) => void) => Promise<T | undefined>;

/**
 * Calls `attempt` until it returns a value, every `intervalMs`, until `timeoutMs` has passed. An
 * attempt that throws counts as "not yet" (a backend still starting, a connection reset); its message
 * becomes the last response. Fails with `what` and the last response.
 */
export async function poll<T>(
  what: string,
  attempt: Attempt<T>,
  options: { timeoutMs: number; intervalMs?: number },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  const intervalMs = options.intervalMs ?? 500;
  let last = 'no attempt finished';
  for (let tries = 1; ; tries++) {
    try {
      const value = await attempt((seen) => {
        last = seen;
      });
      if (value !== undefined) return value;
    } catch (error) {
      last = `error: ${error instanceof Error ? error.message : String(error)}`;
    }
    if (Date.now() + intervalMs > deadline) {
      throw new Error(
        `${what}: still not there after ${options.timeoutMs} ms (${tries} attempts); last response: ${last}`,
      );
    }
    await sleep(intervalMs);
  }
}

/** Shortens a response body for an error message. */
export function excerpt(value: unknown, max = 600): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max)}... (${text.length} chars)` : text;
}

export interface HttpResult<T> {
  status: number;
  body: T;
  text: string;
}

/** GET (or POST a form) and parse JSON; throws on a non-2xx answer with the body in the message. */
export async function getJson<T>(
  url: string,
  params: Record<string, string | string[]> = {},
  headers: Record<string, string> = {},
): Promise<T> {
  const result = await request<T>(url, params, headers);
  if (result.status < 200 || result.status > 299) {
    throw new Error(`GET ${url} -> HTTP ${result.status}: ${excerpt(result.text)}`);
  }
  return result.body;
}

/** GET with query parameters; the body is parsed as JSON when it is JSON, else left undefined. */
export async function request<T>(
  url: string,
  params: Record<string, string | string[]> = {},
  headers: Record<string, string> = {},
): Promise<HttpResult<T>> {
  const target = new URL(url);
  for (const [key, value] of Object.entries(params)) {
    for (const v of Array.isArray(value) ? value : [value]) target.searchParams.append(key, v);
  }
  const response = await fetch(target, {
    headers: { accept: 'application/json', ...headers },
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  let body: T = undefined as T;
  try {
    body = JSON.parse(text) as T;
  } catch {
    // not JSON (404 "trace not found" and the like)
  }
  return { status: response.status, body, text };
}

// ---------------------------------------------------------------------------------------------------
// Prometheus (https://prometheus.io/docs/prometheus/latest/querying/api/)

export interface PromSeries {
  metric: Record<string, string>;
  /** Instant query. */
  value?: [number, string];
  /** Range query. */
  values?: [number, string][];
}

interface PromResponse<T> {
  status: string;
  data: T;
  error?: string;
}

export class PrometheusApi {
  readonly url: string;
  constructor(url: string) {
    this.url = url;
  }

  /** Instant query (/api/v1/query): a vector. */
  async query(expr: string, time?: number): Promise<PromSeries[]> {
    const params: Record<string, string> = { query: expr };
    if (time !== undefined) params.time = String(time);
    const res = await getJson<PromResponse<{ resultType: string; result: PromSeries[] }>>(
      `${this.url}/api/v1/query`,
      params,
    );
    return res.data.result;
  }

  /** Range query (/api/v1/query_range), what a Grafana time series panel runs. Times in seconds. */
  async queryRange(expr: string, start: number, end: number, step: number): Promise<PromSeries[]> {
    const res = await getJson<PromResponse<{ resultType: string; result: PromSeries[] }>>(
      `${this.url}/api/v1/query_range`,
      { query: expr, start: String(start), end: String(end), step: String(step) },
    );
    return res.data.result;
  }

  /** /api/v1/label/<label>/values?match[]=<selector>: what Grafana runs for label_values(). */
  async labelValues(label: string, match: string, start: number, end: number): Promise<string[]> {
    const res = await getJson<PromResponse<string[]>>(
      `${this.url}/api/v1/label/${encodeURIComponent(label)}/values`,
      { 'match[]': match, start: String(start), end: String(end) },
    );
    return res.data;
  }

  /** /api/v1/query_exemplars: the exemplars of the series a query selects. Times in seconds. */
  async exemplars(
    expr: string,
    start: number,
    end: number,
  ): Promise<
    {
      seriesLabels: Record<string, string>;
      exemplars: { labels: Record<string, string>; value: string; timestamp: number }[];
    }[]
  > {
    const res = await getJson<
      PromResponse<
        {
          seriesLabels: Record<string, string>;
          exemplars: { labels: Record<string, string>; value: string; timestamp: number }[];
        }[]
      >
    >(`${this.url}/api/v1/query_exemplars`, {
      query: expr,
      start: String(start),
      end: String(end),
    });
    return res.data;
  }
}

/** Samples of a query result that are numbers (not NaN, not +-Inf). */
export function finiteSamples(series: PromSeries[]): number[] {
  return series.flatMap((s) =>
    [...(s.values ?? []), ...(s.value ? [s.value] : [])]
      .map(([, v]) => Number(v))
      .filter((v) => Number.isFinite(v)),
  );
}

// ---------------------------------------------------------------------------------------------------
// Loki (https://grafana.com/docs/loki/latest/reference/loki-http-api/)

export interface LokiStream {
  stream: Record<string, string>;
  /** [timestamp ns, line] or, with categorized labels, [ts, line, { structuredMetadata, parsed }]. */
  values: [string, string, { structuredMetadata?: Record<string, string> }?][];
}

export interface LokiMatrixSeries {
  metric: Record<string, string>;
  values: [number, string][];
}

export type LokiResult =
  | { resultType: 'streams'; result: LokiStream[] }
  | { resultType: 'matrix'; result: LokiMatrixSeries[] }
  | { resultType: 'vector'; result: { metric: Record<string, string>; value: [number, string] }[] };

export class LokiApi {
  readonly url: string;
  constructor(url: string) {
    this.url = url;
  }

  /**
   * /loki/api/v1/query_range (times in ms since the epoch). `categorize` asks for structured metadata
   * apart from the stream labels, as Grafana does (X-Loki-Response-Encoding-Flags).
   */
  async queryRange(
    query: string,
    startMs: number,
    endMs: number,
    options: { limit?: number; step?: string; categorize?: boolean } = {},
  ): Promise<LokiResult> {
    const params: Record<string, string> = {
      query,
      start: `${Math.floor(startMs)}000000`,
      end: `${Math.ceil(endMs)}000000`,
      limit: String(options.limit ?? 1000),
      direction: 'forward',
    };
    if (options.step) params.step = options.step;
    const headers: Record<string, string> = options.categorize
      ? { 'X-Loki-Response-Encoding-Flags': 'categorize-labels' }
      : {};
    const res = await getJson<{ status: string; data: LokiResult }>(
      `${this.url}/loki/api/v1/query_range`,
      params,
      headers,
    );
    return res.data;
  }
}

/** Every log line of a streams result, with its stream labels (and structured metadata, if any). */
export function lokiEntries(result: LokiResult): {
  line: string;
  ts: string;
  labels: Record<string, string>;
  metadata: Record<string, string>;
}[] {
  if (result.resultType !== 'streams') return [];
  return result.result.flatMap((s) =>
    s.values.map(([ts, line, extra]) => ({
      ts,
      line,
      labels: s.stream,
      metadata: extra?.structuredMetadata ?? {},
    })),
  );
}

// ---------------------------------------------------------------------------------------------------
// Tempo (https://grafana.com/docs/tempo/latest/api_docs/)

export interface TempoSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: string;
  startMs: number;
  endMs: number;
  service: string;
  status: string;
  attributes: Record<string, unknown>;
}

interface OtlpAnyValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
}

interface OtlpJsonSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind?: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  status?: { code?: string };
  attributes?: { key: string; value: OtlpAnyValue }[];
}

interface OtlpJsonResourceSpans {
  resource?: { attributes?: { key: string; value: OtlpAnyValue }[] };
  scopeSpans?: { spans?: OtlpJsonSpan[] }[];
}

/** OTLP/JSON ids are hex; Tempo's protobuf-JSON renders bytes as base64. Either way: lower hex. */
export function idToHex(id: string | undefined, length: number): string {
  if (!id) return '';
  if (new RegExp(`^[0-9a-f]{${length}}$`).test(id)) return id;
  return Buffer.from(id, 'base64').toString('hex').padStart(length, '0');
}

function anyValue(value: OtlpAnyValue): unknown {
  return value.stringValue ?? value.intValue ?? value.boolValue ?? value.doubleValue;
}

export class TempoApi {
  readonly url: string;
  constructor(url: string) {
    this.url = url;
  }

  /** GET /api/traces/<id>: the spans of the trace, or undefined while Tempo answers 404. */
  async trace(traceId: string): Promise<{ spans: TempoSpan[]; raw: string } | undefined> {
    const res = await request<{ batches?: OtlpJsonResourceSpans[] }>(
      `${this.url}/api/traces/${traceId}`,
    );
    if (res.status === 404) return undefined;
    if (res.status !== 200) {
      throw new Error(`GET /api/traces/${traceId} -> HTTP ${res.status}: ${excerpt(res.text)}`);
    }
    const spans: TempoSpan[] = [];
    for (const batch of res.body.batches ?? []) {
      const resource = Object.fromEntries(
        (batch.resource?.attributes ?? []).map((a) => [a.key, anyValue(a.value)]),
      );
      for (const scope of batch.scopeSpans ?? []) {
        for (const span of scope.spans ?? []) {
          spans.push({
            traceId: idToHex(span.traceId, 32),
            spanId: idToHex(span.spanId, 16),
            parentSpanId: idToHex(span.parentSpanId, 16),
            name: span.name,
            kind: span.kind ?? '',
            startMs: Number(BigInt(span.startTimeUnixNano) / 1_000_000n),
            endMs: Number(BigInt(span.endTimeUnixNano) / 1_000_000n),
            service: String(resource['service.name'] ?? ''),
            status: span.status?.code ?? 'STATUS_CODE_UNSET',
            attributes: {
              ...resource,
              ...Object.fromEntries((span.attributes ?? []).map((a) => [a.key, anyValue(a.value)])),
            },
          });
        }
      }
    }
    return { spans, raw: res.text };
  }

  /** GET /api/search?q=<TraceQL> (times in seconds): the matching traces' ids (32 hex digits). */
  async search(
    traceql: string,
    start: number,
    end: number,
    limit = 20,
  ): Promise<{ traceID: string; rootServiceName?: string; rootTraceName?: string }[]> {
    const res = await getJson<{
      traces?: { traceID: string; rootServiceName?: string; rootTraceName?: string }[];
    }>(`${this.url}/api/search`, {
      q: traceql,
      start: String(Math.floor(start)),
      end: String(Math.ceil(end)),
      limit: String(limit),
    });
    // Tempo drops leading zeros of trace ids in search results.
    return (res.traces ?? []).map((t) => ({ ...t, traceID: t.traceID.padStart(32, '0') }));
  }
}
