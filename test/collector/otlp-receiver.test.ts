// The tests' OTLP receiver (test/support/otlp-receiver.ts) decodes the whole protocol with the
// official opentelemetry-proto schema: span links, exemplars, exponential histograms and summaries
// come through, field by field; the schema is the release the pinned collector is built with. Two
// independent senders encode the OTLP/gRPC requests: the OpenTelemetry JS SDK's own exporters
// (links, exponential histograms), and the pinned collector, which re-encodes OTLP/JSON with its Go
// pdata code (summaries, exemplars, negative buckets).
// The collector part needs otelcol (scripts/install-tools.sh otelcol): under CI=true a missing one
// fails the test.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTraceState, TraceFlags, type Link } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import {
  AggregationType,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { stringify } from 'yaml';
import { startCollector } from '../support/collector-process.ts';
import { OtlpReceiver, type ReceivedMetricPoint } from '../support/otlp-receiver.ts';
import { freePort } from '../support/service-process.ts';
import { cacheDir, inCI, requireTool } from '../support/tools.ts';
import { pinnedVersion, repoRoot } from '../support/versions.ts';

describe('OTLP receiver: the schema', () => {
  it('is the opentelemetry-proto release that the pinned collector is built with', (t) => {
    const version = pinnedVersion('OTLP_PROTO_VERSION');
    const readme = readFileSync(
      join(repoRoot, 'test/support/opentelemetry-proto/README.md'),
      'utf8',
    );
    assert.match(readme, new RegExp(`^# opentelemetry-proto v${version.replaceAll('.', '\\.')} `));
    // The module graph of the collector that scripts/install-tools.sh built with ocb.
    const build = `otelcol-${pinnedVersion('OTELCOL_VERSION')}`;
    const goMod = join(cacheDir, 'build', build, '_build', 'go.mod');
    if (!existsSync(goMod)) {
      const hint = `${goMod} is missing: run 'bash scripts/install-tools.sh otelcol'`;
      if (inCI) assert.fail(hint);
      t.skip(hint);
      return;
    }
    const required = /^\s*go\.opentelemetry\.io\/proto\/otlp (v\S+)/m.exec(
      readFileSync(goMod, 'utf8'),
    );
    assert.equal(required?.[1], `v${version}`);
  });
});

const linkedTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
const linkedSpan = '00f067aa0ba902b7';
// Span flags: the W3C trace flags in the low byte, "has is_remote" (0x100) and "is remote" (0x200).
const sampledRemote = 0x301;

describe('OTLP receiver: the SDK exporters over gRPC', () => {
  let receiver: OtlpReceiver;
  before(async () => {
    receiver = await OtlpReceiver.start();
  });
  after(() => receiver.stop());

  it('decodes a span link with its trace state, attributes and flags, and event times', async () => {
    const provider = new TracerProvider({
      spanProcessors: [
        new SimpleSpanProcessor({ exporter: new OTLPTraceExporter({ url: receiver.endpoint }) }),
      ],
    });
    const link: Link = {
      context: {
        traceId: linkedTrace,
        spanId: linkedSpan,
        traceFlags: TraceFlags.SAMPLED,
        isRemote: true,
        traceState: createTraceState('vendor=value'),
      },
      attributes: { 'link.reason': 'batch', 'link.count': 3 },
    };
    const span = provider.getTracer('otlp-schema').startSpan('linked', { links: [link] });
    span.addEvent('checkpoint', { step: 1 }, new Date(1_700_000_000_123));
    span.end();
    await provider.forceFlush();
    const received = await receiver.waitFor(() => receiver.spans.find((s) => s.name === 'linked'));
    await provider.shutdown();
    assert.deepEqual(received.links, [
      {
        traceId: linkedTrace,
        spanId: linkedSpan,
        traceState: 'vendor=value',
        attributes: { 'link.reason': 'batch', 'link.count': 3 },
        flags: sampledRemote,
      },
    ]);
    assert.deepEqual(received.events, [
      { name: 'checkpoint', timeUnixNano: 1_700_000_000_123_000_000n, attributes: { step: 1 } },
    ]);
    assert.equal(received.scope, 'otlp-schema');
  });

  it('decodes an exponential histogram: scale, zero count, buckets, min and max', async () => {
    const exporter = new OTLPMetricExporter({ url: receiver.endpoint });
    const provider = new MeterProvider({
      readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })],
      views: [
        {
          instrumentName: 'payload.size',
          aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM, options: { maxSize: 160 } },
        },
      ],
    });
    const histogram = provider
      .getMeter('otlp-schema')
      .createHistogram('payload.size', { unit: 'By' });
    for (const value of [0, 1, 2, 4, 1024]) histogram.record(value, { route: '/upload' });
    await provider.forceFlush();
    const [point] = await receiver.waitFor(() => {
      const points = receiver.metrics.filter((p) => p.name === 'payload.size');
      return points.length > 0 && points;
    });
    await provider.shutdown();
    assert.ok(point);
    assert.equal(point.type, 'exponential_histogram');
    assert.equal(point.unit, 'By');
    assert.deepEqual(point.attributes, { route: '/upload' });
    assert.equal(point.count, 5);
    assert.equal(point.sum, 1031);
    assert.equal(point.min, 0);
    assert.equal(point.max, 1024);
    assert.equal(point.zeroCount, 1);
    assert.equal(point.aggregationTemporality, 2, 'cumulative');
    // Four positive values spread over the buckets of a scale fine enough for 1..1024 in 160.
    const { positive, scale = 0 } = point;
    assert.ok(positive);
    assert.equal(
      positive.bucketCounts.reduce((a, b) => a + b, 0),
      4,
    );
    assert.ok(scale > 0, `scale ${scale}`);
    // Bucket index i holds (base^i, base^(i+1)] with base = 2^(2^-scale): 1024 = 2^10 is the upper
    // edge of bucket 10 * 2^scale - 1, the last one.
    assert.equal(positive.offset + positive.bucketCounts.length - 1, 10 * 2 ** scale - 1);
    assert.deepEqual(point.negative?.bucketCounts ?? [], []);
  });
});

// OTLP/JSON as the specification maps it (hex ids, 64-bit integers as strings), sent to the collector.
const exemplar = {
  timeUnixNano: '1700000000500000000',
  asDouble: 0.25,
  traceId: linkedTrace,
  spanId: linkedSpan,
  filteredAttributes: [{ key: 'user.id', value: { stringValue: '42' } }],
};
const points = (extra: object) => [
  {
    attributes: [{ key: 'route', value: { stringValue: '/users/:id' } }],
    startTimeUnixNano: '1700000000000000000',
    timeUnixNano: '1700000001000000000',
    ...extra,
  },
];
const metrics = [
  {
    name: 'rpc.latency',
    unit: 's',
    summary: {
      dataPoints: points({
        count: '3',
        sum: 0.75,
        quantileValues: [
          { quantile: 0, value: 0.1 },
          { quantile: 0.5, value: 0.25 },
          { quantile: 1, value: 0.4 },
        ],
      }),
    },
  },
  {
    name: 'http.duration',
    unit: 's',
    histogram: {
      aggregationTemporality: 1,
      dataPoints: points({
        count: '2',
        sum: 0.5,
        min: 0.2,
        max: 0.3,
        bucketCounts: ['0', '2', '0'],
        explicitBounds: [0.1, 0.5],
        exemplars: [exemplar],
      }),
    },
  },
  {
    name: 'requests',
    sum: {
      aggregationTemporality: 2,
      isMonotonic: true,
      dataPoints: points({
        asInt: '7',
        exemplars: [{ ...exemplar, asDouble: undefined, asInt: '1' }],
      }),
    },
  },
  {
    name: 'temperature.delta',
    exponentialHistogram: {
      aggregationTemporality: 1,
      dataPoints: points({
        count: '3',
        sum: -3,
        scale: 0,
        zeroCount: '0',
        zeroThreshold: 0.001,
        negative: { offset: 0, bucketCounts: ['1', '2'] },
        exemplars: [{ ...exemplar, asDouble: -1.5 }],
      }),
    },
  },
];
const resource = { attributes: [{ key: 'service.name', value: { stringValue: 'json-sender' } }] };

describe('OTLP receiver: the collector re-encoding OTLP/JSON over gRPC', () => {
  it('decodes summaries, exemplars of every point type, explicit and negative buckets', async (t) => {
    const otelcol = requireTool('otelcol', t);
    if (!otelcol) return;
    const receiver = await OtlpReceiver.start();
    t.after(() => receiver.stop());
    const [http, health] = [await freePort(), await freePort()];
    const dir = mkdtempSync(join(tmpdir(), 'otlp-schema-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      stringify({
        receivers: { otlp: { protocols: { http: { endpoint: `127.0.0.1:${http}` } } } },
        exporters: {
          otlp_grpc: { endpoint: `127.0.0.1:${receiver.port}`, tls: { insecure: true } },
        },
        extensions: { health_check: { endpoint: `127.0.0.1:${health}` } },
        service: {
          extensions: ['health_check'],
          telemetry: { metrics: { level: 'none' }, logs: { level: 'warn' } },
          pipelines: { metrics: { receivers: ['otlp'], exporters: ['otlp_grpc'] } },
        },
      }),
    );
    const collector = await startCollector(
      otelcol,
      ['--config', config],
      {},
      `http://127.0.0.1:${health}/`,
    );
    t.after(() => collector.stop());
    const body = {
      resourceMetrics: [{ resource, scopeMetrics: [{ scope: { name: 'json' }, metrics }] }],
    };
    const response = await fetch(`http://127.0.0.1:${http}/v1/metrics`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.equal(response.status, 200, await response.text());
    await receiver.waitFor(() => receiver.metrics.length === metrics.length, {
      what: `${metrics.length} metric points (collector log:\n${collector.tail()})`,
    });
    const byName = (name: string): ReceivedMetricPoint => {
      const found = receiver.metrics.find((p) => p.name === name);
      assert.ok(found, name);
      assert.deepEqual(found.resource, { 'service.name': 'json-sender' });
      assert.equal(found.scope, 'json');
      assert.deepEqual(found.attributes, { route: '/users/:id' });
      assert.equal(found.startTimeUnixNano, 1_700_000_000_000_000_000n);
      assert.equal(found.timeUnixNano, 1_700_000_001_000_000_000n);
      return found;
    };
    const received = (value: number) => ({
      value,
      timeUnixNano: 1_700_000_000_500_000_000n,
      traceId: linkedTrace,
      spanId: linkedSpan,
      filteredAttributes: { 'user.id': '42' },
    });

    const summary = byName('rpc.latency');
    assert.equal(summary.type, 'summary');
    assert.equal(summary.count, 3);
    assert.equal(summary.sum, 0.75);
    assert.deepEqual(summary.quantiles, [
      { quantile: 0, value: 0.1 },
      { quantile: 0.5, value: 0.25 },
      { quantile: 1, value: 0.4 },
    ]);
    assert.deepEqual(summary.exemplars, []);

    const histogram = byName('http.duration');
    assert.equal(histogram.type, 'histogram');
    assert.equal(histogram.aggregationTemporality, 1, 'delta');
    assert.deepEqual(
      [histogram.count, histogram.sum, histogram.min, histogram.max],
      [2, 0.5, 0.2, 0.3],
    );
    assert.deepEqual(histogram.bucketCounts, [0, 2, 0]);
    assert.deepEqual(histogram.explicitBounds, [0.1, 0.5]);
    assert.deepEqual(histogram.exemplars, [received(0.25)]);

    const sum = byName('requests');
    assert.equal(sum.type, 'sum');
    assert.equal(sum.value, 7);
    assert.equal(sum.isMonotonic, true);
    assert.deepEqual(sum.exemplars, [received(1)]);

    const exponential = byName('temperature.delta');
    assert.equal(exponential.type, 'exponential_histogram');
    assert.deepEqual(
      [exponential.count, exponential.sum, exponential.scale, exponential.zeroThreshold],
      [3, -3, 0, 0.001],
    );
    assert.deepEqual(exponential.negative, { offset: 0, bucketCounts: [1, 2] });
    assert.deepEqual(exponential.exemplars, [received(-1.5)]);
  });
});
