// An in-process OTLP/gRPC receiver for tests: a @grpc/grpc-js server implementing the collector's
// TraceService, MetricsService and LogsService `Export` methods. It decodes the protobuf payloads
// with protobufjs and the official opentelemetry-proto schema (otlp-proto.ts), so every field of the
// protocol comes through (links, exemplars, exponential histograms, summaries...), and keeps what it
// received in memory. Started with `forwardTo`, it is a tee in front of a
// collector: each Export goes on unchanged, and is kept only once the collector accepted it, so a test
// can compare what a backend holds with exactly what the collector acknowledged.

import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import {
  logsOfRequest,
  metricPointsOfRequest,
  services,
  spansOfRequest,
  type ReceivedLog,
  type ReceivedMetricPoint,
  type ReceivedSpan,
} from './otlp-proto.ts';

export type {
  Attributes,
  Exemplar,
  ExponentialBuckets,
  ReceivedLink,
  ReceivedLog,
  ReceivedMetricPoint,
  ReceivedSpan,
  Value,
} from './otlp-proto.ts';

export const SpanKind = { INTERNAL: 1, SERVER: 2, CLIENT: 3 } as const;
export const StatusCode = { UNSET: 0, OK: 1, ERROR: 2 } as const;

/** gRPC path of a collector service's Export method, from the schema's service name. */
const exportPath = (service: protobuf.Service): string =>
  `/${service.fullName.replace(/^\./, '')}/${service.methods.Export?.name ?? 'Export'}`;

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
    const service = (path: string): grpc.ServiceDefinition => ({
      Export: {
        path,
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
        path: string,
        decode: (buffer: Buffer) => void,
      ): grpc.UntypedServiceImplementation['Export'] =>
      (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        forward(path, call.request).then(
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
    const decoders = {
      traces: (b: Buffer) => receiver.#onTraces(b),
      metrics: (b: Buffer) => receiver.#onMetrics(b),
      logs: (b: Buffer) => receiver.#onLogs(b),
    };
    for (const signal of ['traces', 'metrics', 'logs'] as const) {
      const path = exportPath(services[signal]);
      server.addService(service(path), { Export: handler(path, decoders[signal]) });
    }
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
    this.spans.push(...spansOfRequest(buffer));
  }

  #onMetrics(buffer: Buffer): void {
    this.metrics.push(...metricPointsOfRequest(buffer, this.exports.metrics++));
  }

  #onLogs(buffer: Buffer): void {
    this.exports.logs += 1;
    this.logs.push(...logsOfRequest(buffer));
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
