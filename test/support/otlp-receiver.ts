// An in-process OTLP/gRPC receiver for tests: a @grpc/grpc-js server implementing the collector's
// TraceService, MetricsService and LogsService `Export` methods. It decodes the protobuf payloads
// with protobufjs, using the message descriptions below (written for this test from the OTLP
// specification; only the fields the tests read are described, unknown fields are skipped by the
// decoder), and keeps what it received in memory. Started with `forwardTo`, it is a tee in front of a
// collector: each Export goes on unchanged, and is kept only once the collector accepted it, so a test
// can compare what a backend holds with exactly what the collector acknowledged.

import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

// Field numbers from opentelemetry-proto (common/v1, resource/v1, trace/v1, metrics/v1, logs/v1,
// collector/*/v1). Enums are declared as int32: identical wire encoding.
const OTLP_SUBSET = `
syntax = "proto3";
package otlp;

message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
    ArrayValue array_value = 5;
    KeyValueList kvlist_value = 6;
    bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message InstrumentationScope { string name = 1; string version = 2; }
message Resource { repeated KeyValue attributes = 1; }

message SpanEvent { fixed64 time_unix_nano = 1; string name = 2; repeated KeyValue attributes = 3; }
message SpanStatus { string message = 2; int32 code = 3; }
message Span {
  bytes trace_id = 1;
  bytes span_id = 2;
  bytes parent_span_id = 4;
  string name = 5;
  int32 kind = 6;
  fixed64 start_time_unix_nano = 7;
  fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9;
  repeated SpanEvent events = 11;
  SpanStatus status = 15;
  fixed32 flags = 16;
}
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }

message NumberDataPoint {
  repeated KeyValue attributes = 7;
  fixed64 time_unix_nano = 3;
  oneof value { double as_double = 4; sfixed64 as_int = 6; }
}
message HistogramDataPoint {
  repeated KeyValue attributes = 9;
  fixed64 time_unix_nano = 3;
  fixed64 count = 4;
  double sum = 5;
  repeated fixed64 bucket_counts = 6;
  repeated double explicit_bounds = 7;
}
message Gauge { repeated NumberDataPoint data_points = 1; }
message Sum { repeated NumberDataPoint data_points = 1; int32 aggregation_temporality = 2; bool is_monotonic = 3; }
message Histogram { repeated HistogramDataPoint data_points = 1; int32 aggregation_temporality = 2; }
message Metric {
  string name = 1;
  string description = 2;
  string unit = 3;
  oneof data { Gauge gauge = 5; Sum sum = 7; Histogram histogram = 9; }
}
message ScopeMetrics { InstrumentationScope scope = 1; repeated Metric metrics = 2; }
message ResourceMetrics { Resource resource = 1; repeated ScopeMetrics scope_metrics = 2; }
message ExportMetricsServiceRequest { repeated ResourceMetrics resource_metrics = 1; }

message LogRecord {
  fixed64 time_unix_nano = 1;
  int32 severity_number = 2;
  string severity_text = 3;
  AnyValue body = 5;
  repeated KeyValue attributes = 6;
  fixed32 flags = 8;
  bytes trace_id = 9;
  bytes span_id = 10;
}
message ScopeLogs { InstrumentationScope scope = 1; repeated LogRecord log_records = 2; }
message ResourceLogs { Resource resource = 1; repeated ScopeLogs scope_logs = 2; }
message ExportLogsServiceRequest { repeated ResourceLogs resource_logs = 1; }
`;

const root = protobuf.parse(OTLP_SUBSET, { keepCase: true }).root;
const TracesRequest = root.lookupType('otlp.ExportTraceServiceRequest');
const MetricsRequest = root.lookupType('otlp.ExportMetricsServiceRequest');
const LogsRequest = root.lookupType('otlp.ExportLogsServiceRequest');

export type Value = string | number | boolean | null | Value[] | { [key: string]: Value };
export type Attributes = Record<string, Value>;

export const SpanKind = { INTERNAL: 1, SERVER: 2, CLIENT: 3 } as const;
export const StatusCode = { UNSET: 0, OK: 1, ERROR: 2 } as const;

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Attributes;
  events: { name: string; attributes: Attributes }[];
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

export interface ReceivedMetricPoint {
  name: string;
  unit: string;
  type: 'gauge' | 'sum' | 'histogram';
  attributes: Attributes;
  /** gauge/sum value */
  value?: number;
  /** histogram count and sum */
  count?: number;
  sum?: number;
  isMonotonic?: boolean;
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

export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  readonly logs: ReceivedLog[] = [];
  readonly metrics: ReceivedMetricPoint[] = [];
  /** Number of Export calls per signal. */
  readonly exports = { traces: 0, metrics: 0, logs: 0 };
  readonly #server: grpc.Server;
  #http: Server | undefined;
  #upstream: grpc.Client | undefined;
  port = 0;
  /**
   * OTLP/HTTP (protobuf) answers: while this returns a status other than 200, requests are refused
   * with it and nothing is kept (a backend outage).
   */
  httpStatus: () => number = () => 200;

  private constructor(server: grpc.Server) {
    this.#server = server;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /**
   * Starts on `port` (0: any free port) on 127.0.0.1. With `forwardTo` (a collector's OTLP/gRPC
   * host:port), every Export is passed on and answered with the collector's answer; only what the
   * collector accepted is kept.
   */
  static async start(port = 0, options: { forwardTo?: string } = {}): Promise<OtlpReceiver> {
    const server = new grpc.Server();
    const receiver = new OtlpReceiver(server);
    const upstream = options.forwardTo
      ? new grpc.Client(options.forwardTo, grpc.credentials.createInsecure())
      : undefined;
    receiver.#upstream = upstream;
    const forward = (path: string, request: Buffer): Promise<Buffer> =>
      new Promise((resolve, reject) => {
        if (!upstream) {
          resolve(Buffer.alloc(0));
          return;
        }
        upstream.makeUnaryRequest(
          path,
          (value: Buffer) => value,
          (buffer: Buffer) => buffer,
          request,
          (error, response) => (error ? reject(error) : resolve(response ?? Buffer.alloc(0))),
        );
      });
    const service = (name: string): grpc.ServiceDefinition => ({
      Export: {
        path: `/opentelemetry.proto.collector.${name}/Export`,
        requestStream: false,
        responseStream: false,
        requestSerialize: (value: Buffer) => value,
        requestDeserialize: (buffer: Buffer) => buffer,
        // Export*ServiceResponse with no partial_success: the empty message.
        // (or the collector's own answer when forwarding).
        responseSerialize: (value: Buffer) => value,
        responseDeserialize: (buffer: Buffer) => buffer,
      },
    });
    const handler =
      (
        name: string,
        decode: (buffer: Buffer) => void,
      ): grpc.UntypedServiceImplementation['Export'] =>
      (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        forward(`/opentelemetry.proto.collector.${name}/Export`, call.request).then(
          (response) => {
            try {
              decode(call.request);
              callback(null, response);
            } catch (error) {
              callback({ code: grpc.status.INVALID_ARGUMENT, details: String(error) });
            }
          },
          (error: grpc.ServiceError) => callback(error),
        );
      };
    server.addService(service('trace.v1.TraceService'), {
      Export: handler('trace.v1.TraceService', (b) => receiver.#onTraces(b)),
    });
    server.addService(service('metrics.v1.MetricsService'), {
      Export: handler('metrics.v1.MetricsService', (b) => receiver.#onMetrics(b)),
    });
    server.addService(service('logs.v1.LogsService'), {
      Export: handler('logs.v1.LogsService', (b) => receiver.#onLogs(b)),
    });
    const bound = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error, p) =>
        error ? reject(error) : resolve(p),
      ),
    );
    receiver.port = bound;
    return receiver;
  }

  #onTraces(buffer: Buffer): void {
    this.exports.traces += 1;
    const request = TracesRequest.toObject(TracesRequest.decode(buffer), decodeOptions);
    for (const rs of list(request.resource_spans)) {
      const resource = attributes((rs.resource as Raw | undefined)?.attributes);
      for (const ss of list(rs.scope_spans)) {
        const scope = ((ss.scope as Raw | undefined)?.name as string) ?? '';
        for (const s of list(ss.spans)) {
          const status = (s.status as Raw | undefined) ?? {};
          this.spans.push({
            traceId: hex(s.trace_id),
            spanId: hex(s.span_id),
            parentSpanId: hex(s.parent_span_id),
            name: (s.name as string) ?? '',
            kind: num(s.kind),
            startTimeUnixNano: BigInt((s.start_time_unix_nano as string) ?? 0),
            endTimeUnixNano: BigInt((s.end_time_unix_nano as string) ?? 0),
            attributes: attributes(s.attributes),
            events: list(s.events).map((e) => ({
              name: (e.name as string) ?? '',
              attributes: attributes(e.attributes),
            })),
            status: { code: num(status.code), message: (status.message as string) ?? '' },
            resource,
            scope,
          });
        }
      }
    }
  }

  #onMetrics(buffer: Buffer): void {
    const exportIndex = this.exports.metrics++;
    const request = MetricsRequest.toObject(MetricsRequest.decode(buffer), decodeOptions);
    for (const rm of list(request.resource_metrics)) {
      const resource = attributes((rm.resource as Raw | undefined)?.attributes);
      for (const sm of list(rm.scope_metrics)) {
        const scope = ((sm.scope as Raw | undefined)?.name as string) ?? '';
        for (const m of list(sm.metrics)) {
          const base = {
            name: m.name as string,
            unit: (m.unit as string) ?? '',
            resource,
            scope,
            exportIndex,
          };
          const time = (p: Raw) => BigInt((p.time_unix_nano as string | undefined) ?? 0);
          const numberPoint = (p: Raw) =>
            p.as_double !== undefined ? Number(p.as_double) : Number(p.as_int ?? 0);
          if (m.sum) {
            const sum = m.sum as Raw;
            for (const p of list(sum.data_points)) {
              this.metrics.push({
                ...base,
                type: 'sum',
                timeUnixNano: time(p),
                attributes: attributes(p.attributes),
                value: numberPoint(p),
                isMonotonic: Boolean(sum.is_monotonic),
              });
            }
          } else if (m.gauge) {
            for (const p of list((m.gauge as Raw).data_points)) {
              this.metrics.push({
                ...base,
                type: 'gauge',
                timeUnixNano: time(p),
                attributes: attributes(p.attributes),
                value: numberPoint(p),
              });
            }
          } else if (m.histogram) {
            for (const p of list((m.histogram as Raw).data_points)) {
              this.metrics.push({
                ...base,
                type: 'histogram',
                timeUnixNano: time(p),
                attributes: attributes(p.attributes),
                count: num(p.count),
                sum: num(p.sum),
              });
            }
          }
        }
      }
    }
  }

  #onLogs(buffer: Buffer): void {
    this.exports.logs += 1;
    const request = LogsRequest.toObject(LogsRequest.decode(buffer), decodeOptions);
    for (const rl of list(request.resource_logs)) {
      const resource = attributes((rl.resource as Raw | undefined)?.attributes);
      for (const sl of list(rl.scope_logs)) {
        const scope = ((sl.scope as Raw | undefined)?.name as string) ?? '';
        for (const l of list(sl.log_records)) {
          this.logs.push({
            timeUnixNano: BigInt((l.time_unix_nano as string | undefined) ?? 0),
            traceId: hex(l.trace_id),
            spanId: hex(l.span_id),
            flags: num(l.flags),
            severityNumber: num(l.severity_number),
            severityText: (l.severity_text as string) ?? '',
            body: anyValue(l.body as Raw | undefined),
            attributes: attributes(l.attributes),
            resource,
            scope,
          });
        }
      }
    }
  }

  /**
   * Also accepts OTLP/HTTP protobuf: POST <any prefix>/v1/{traces,metrics,logs} on 127.0.0.1.
   * Resolves with the base URL. Stopped by stop().
   */
  async listenHttp(): Promise<string> {
    const decoders: Record<string, (buffer: Buffer) => void> = {
      traces: (b) => this.#onTraces(b),
      metrics: (b) => this.#onMetrics(b),
      logs: (b) => this.#onLogs(b),
    };
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const decode = decoders[/\/v1\/(traces|metrics|logs)$/.exec(req.url ?? '')?.[1] ?? ''];
        const status = this.httpStatus();
        if (!decode || req.method !== 'POST' || status !== 200) {
          res.writeHead(decode ? status : 404).end();
          return;
        }
        try {
          const body = Buffer.concat(chunks);
          // The collector's otlp_http exporters compress with gzip by default.
          decode(req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body);
          res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
        } catch (error) {
          res.writeHead(400).end(String(error));
        }
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    this.#http = server;
    const address = server.address();
    return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  }

  /** Latest cumulative value of a metric's points matching `filter` (per export, the last one). */
  latestPoints(
    name: string,
    filter: (p: ReceivedMetricPoint) => boolean = () => true,
  ): ReceivedMetricPoint[] {
    const points = this.metrics.filter((p) => p.name === name && filter(p));
    const last = Math.max(-1, ...points.map((p) => p.exportIndex));
    return points.filter((p) => p.exportIndex === last);
  }

  /** Polls `probe` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
  async waitFor<T>(
    probe: () => T | undefined | false,
    options: { timeoutMs?: number; what?: string } = {},
  ): Promise<T> {
    const deadline = Date.now() + (options.timeoutMs ?? 10_000);
    for (;;) {
      const value = probe();
      if (value !== undefined && value !== false) return value;
      if (Date.now() > deadline) {
        throw new Error(
          `timed out waiting for ${options.what ?? 'telemetry'} (received ${this.spans.length} spans, ` +
            `${this.logs.length} logs, ${this.metrics.length} metric points)`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async stop(): Promise<void> {
    this.#http?.closeAllConnections();
    this.#http?.close();
    await new Promise<void>((resolve) => this.#server.tryShutdown(() => resolve()));
    this.#server.forceShutdown();
    this.#upstream?.close();
  }
}
