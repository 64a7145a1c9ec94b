// The OTLP protobuf schema of the tests: the official opentelemetry-proto files vendored in
// opentelemetry-proto/ (the release the pinned collector is built with), loaded with protobufjs, and
// the conversion of decoded Export requests into the flat records the tests read (otlp-receiver.ts).
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { repoRoot } from './versions.ts';

const protoDir = join(repoRoot, 'test', 'support', 'opentelemetry-proto');
const collector = 'opentelemetry.proto.collector';

/** The official schema; keepCase: fields keep their proto names (trace_id, data_points...). */
export const otlpRoot = new protobuf.Root();
// The files import each other by their path from the repository root of opentelemetry-proto.
otlpRoot.resolvePath = (_origin, target) => join(protoDir, target);
otlpRoot.loadSync(
  ['trace/v1/trace_service', 'metrics/v1/metrics_service', 'logs/v1/logs_service'].map(
    (file) => `opentelemetry/proto/collector/${file}.proto`,
  ),
  { keepCase: true },
);

export const services = {
  traces: otlpRoot.lookupService(`${collector}.trace.v1.TraceService`),
  metrics: otlpRoot.lookupService(`${collector}.metrics.v1.MetricsService`),
  logs: otlpRoot.lookupService(`${collector}.logs.v1.LogsService`),
};
export const TracesRequest = otlpRoot.lookupType(`${collector}.trace.v1.ExportTraceServiceRequest`);
export const MetricsRequest = otlpRoot.lookupType(
  `${collector}.metrics.v1.ExportMetricsServiceRequest`,
);
export const LogsRequest = otlpRoot.lookupType(`${collector}.logs.v1.ExportLogsServiceRequest`);

export type Value = string | number | boolean | null | Value[] | { [key: string]: Value };
export type Attributes = Record<string, Value>;

export interface ReceivedLink {
  traceId: string;
  spanId: string;
  traceState: string;
  attributes: Attributes;
  flags: number;
}

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  traceState: string;
  flags: number;
  name: string;
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Attributes;
  events: { name: string; timeUnixNano: bigint; attributes: Attributes }[];
  links: ReceivedLink[];
  status: { code: number; message: string };
  resource: Attributes;
  scope: string;
}

export interface ReceivedLog {
  /** The record's time (0 when the sender set none). */
  timeUnixNano: bigint;
  traceId: string;
  spanId: string;
  flags: number;
  severityNumber: number;
  severityText: string;
  body: Value;
  attributes: Attributes;
  resource: Attributes;
  scope: string;
}

export interface Exemplar {
  value: number;
  timeUnixNano: bigint;
  traceId: string;
  spanId: string;
  filteredAttributes: Attributes;
}

/** One bucket range of an exponential histogram: counts of consecutive buckets from `offset`. */
export interface ExponentialBuckets {
  offset: number;
  bucketCounts: number[];
}

export interface ReceivedMetricPoint {
  name: string;
  unit: string;
  type: 'gauge' | 'sum' | 'histogram' | 'exponential_histogram' | 'summary';
  attributes: Attributes;
  /** gauge/sum value */
  value?: number;
  /** histogram, exponential histogram and summary: count and sum */
  count?: number;
  sum?: number;
  isMonotonic?: boolean;
  /** sum, histogram and exponential histogram: 1 delta, 2 cumulative */
  aggregationTemporality?: number;
  /** histogram and exponential histogram, when the sender set them */
  min?: number;
  max?: number;
  /** histogram */
  bucketCounts?: number[];
  explicitBounds?: number[];
  /** exponential histogram */
  scale?: number;
  zeroCount?: number;
  zeroThreshold?: number;
  positive?: ExponentialBuckets;
  negative?: ExponentialBuckets;
  /** summary */
  quantiles?: { quantile: number; value: number }[];
  /** Exemplars of the point (a summary has none). */
  exemplars: Exemplar[];
  startTimeUnixNano: bigint;
  /** The data point's time. */
  timeUnixNano: bigint;
  resource: Attributes;
  scope: string;
  /** Which Export call brought it (0-based, per receiver). */
  exportIndex: number;
}

// Decoded with toObject({ longs: String, bytes: Buffer }): 64-bit numbers arrive as strings.
type Raw = Record<string, unknown>;
const list = (value: unknown): Raw[] => (Array.isArray(value) ? (value as Raw[]) : []);
const hex = (value: unknown): string => (Buffer.isBuffer(value) ? value.toString('hex') : '');
const num = (value: unknown): number => (value === undefined ? 0 : Number(value));
const nanos = (value: unknown): bigint => BigInt((value as string | undefined) ?? 0);
const text = (value: unknown): string => (value as string | undefined) ?? '';

function anyValue(v: Raw | undefined): Value {
  if (!v) return null;
  if ('string_value' in v) return v.string_value as string;
  if ('bool_value' in v) return v.bool_value as boolean;
  if ('int_value' in v) return Number(v.int_value);
  if ('double_value' in v) return v.double_value as number;
  if ('array_value' in v) return list((v.array_value as Raw).values).map(anyValue);
  if ('kvlist_value' in v) return attributes((v.kvlist_value as Raw).values);
  if ('bytes_value' in v) return hex(v.bytes_value);
  return null;
}

function attributes(kvs: unknown): Attributes {
  const out: Attributes = {};
  for (const kv of list(kvs)) out[kv.key as string] = anyValue(kv.value as Raw | undefined);
  return out;
}

const decodeOptions = { longs: String, bytes: Buffer, defaults: false, oneofs: false };
const decode = (type: protobuf.Type, buffer: Buffer): Raw =>
  type.toObject(type.decode(buffer), decodeOptions);

/** Every resource's every scope's items of a decoded request, with the resource and scope. */
function* scoped(
  request: Raw,
  [resources, scopes, items]: [string, string, string],
): Generator<{ item: Raw; resource: Attributes; scope: string }> {
  for (const r of list(request[resources])) {
    const resource = attributes((r.resource as Raw | undefined)?.attributes);
    for (const s of list(r[scopes])) {
      const scope = text((s.scope as Raw | undefined)?.name);
      for (const item of list(s[items])) yield { item, resource, scope };
    }
  }
}

export function spansOfRequest(buffer: Buffer): ReceivedSpan[] {
  const request = decode(TracesRequest, buffer);
  return [...scoped(request, ['resource_spans', 'scope_spans', 'spans'])].map(
    ({ item: s, resource, scope }) => {
      const status = (s.status as Raw | undefined) ?? {};
      return {
        traceId: hex(s.trace_id),
        spanId: hex(s.span_id),
        parentSpanId: hex(s.parent_span_id),
        traceState: text(s.trace_state),
        flags: num(s.flags),
        name: text(s.name),
        kind: num(s.kind),
        startTimeUnixNano: nanos(s.start_time_unix_nano),
        endTimeUnixNano: nanos(s.end_time_unix_nano),
        attributes: attributes(s.attributes),
        events: list(s.events).map((e) => ({
          name: text(e.name),
          timeUnixNano: nanos(e.time_unix_nano),
          attributes: attributes(e.attributes),
        })),
        links: list(s.links).map((l) => ({
          traceId: hex(l.trace_id),
          spanId: hex(l.span_id),
          traceState: text(l.trace_state),
          attributes: attributes(l.attributes),
          flags: num(l.flags),
        })),
        status: { code: num(status.code), message: text(status.message) },
        resource,
        scope,
      };
    },
  );
}

const numberValue = (p: Raw): number =>
  p.as_double !== undefined ? Number(p.as_double) : Number(p.as_int ?? 0);

const buckets = (b: unknown): ExponentialBuckets => ({
  offset: num((b as Raw | undefined)?.offset),
  bucketCounts: list((b as Raw | undefined)?.bucket_counts).map(Number),
});

/** The fields of one data point of a metric of `type` (data is the metric's gauge, sum... message). */
function pointFields(type: ReceivedMetricPoint['type'], data: Raw, p: Raw) {
  const common = {
    attributes: attributes(p.attributes),
    startTimeUnixNano: nanos(p.start_time_unix_nano),
    timeUnixNano: nanos(p.time_unix_nano),
    exemplars: list(p.exemplars).map((e) => ({
      value: numberValue(e),
      timeUnixNano: nanos(e.time_unix_nano),
      traceId: hex(e.trace_id),
      spanId: hex(e.span_id),
      filteredAttributes: attributes(e.filtered_attributes),
    })),
  };
  const temporality = { aggregationTemporality: num(data.aggregation_temporality) };
  const distribution = { count: num(p.count), sum: num(p.sum) };
  // min and max are optional fields: absent when the sender set none.
  const range = {
    ...(p.min !== undefined && { min: Number(p.min) }),
    ...(p.max !== undefined && { max: Number(p.max) }),
  };
  switch (type) {
    case 'gauge':
      return { ...common, value: numberValue(p) };
    case 'sum':
      return {
        ...common,
        ...temporality,
        value: numberValue(p),
        isMonotonic: Boolean(data.is_monotonic),
      };
    case 'histogram':
      return {
        ...common,
        ...temporality,
        ...distribution,
        ...range,
        bucketCounts: list(p.bucket_counts).map(Number),
        explicitBounds: list(p.explicit_bounds).map(Number),
      };
    case 'exponential_histogram':
      return {
        ...common,
        ...temporality,
        ...distribution,
        ...range,
        scale: num(p.scale),
        zeroCount: num(p.zero_count),
        zeroThreshold: num(p.zero_threshold),
        positive: buckets(p.positive),
        negative: buckets(p.negative),
      };
    case 'summary':
      return {
        ...common,
        ...distribution,
        quantiles: list(p.quantile_values).map((q) => ({
          quantile: num(q.quantile),
          value: num(q.value),
        })),
      };
  }
}

const metricTypes = ['gauge', 'sum', 'histogram', 'exponential_histogram', 'summary'] as const;

export function metricPointsOfRequest(buffer: Buffer, exportIndex: number): ReceivedMetricPoint[] {
  const request = decode(MetricsRequest, buffer);
  const points: ReceivedMetricPoint[] = [];
  for (const { item: m, resource, scope } of scoped(request, [
    'resource_metrics',
    'scope_metrics',
    'metrics',
  ])) {
    const type = metricTypes.find((t) => m[t] !== undefined);
    if (!type) continue;
    const data = m[type] as Raw;
    const base = { name: text(m.name), unit: text(m.unit), type, resource, scope, exportIndex };
    for (const p of list(data.data_points)) points.push({ ...base, ...pointFields(type, data, p) });
  }
  return points;
}

export function logsOfRequest(buffer: Buffer): ReceivedLog[] {
  const request = decode(LogsRequest, buffer);
  return [...scoped(request, ['resource_logs', 'scope_logs', 'log_records'])].map(
    ({ item: l, resource, scope }) => ({
      timeUnixNano: nanos(l.time_unix_nano),
      traceId: hex(l.trace_id),
      spanId: hex(l.span_id),
      flags: num(l.flags),
      severityNumber: num(l.severity_number),
      severityText: text(l.severity_text),
      body: anyValue(l.body as Raw | undefined),
      attributes: attributes(l.attributes),
      resource,
      scope,
    }),
  );
}
