// Which instrumentations run, and how: an explicit allowlist passed to getNodeAutoInstrumentations.
//
// auto-instrumentations-node bundles ~40 instrumentations and, left to its defaults, enables nearly
// all of them (dns, net, ... each adding spans to every request). Here five are on and every other
// one is switched off by name. The map is typed `Required<...>`: when an upgrade of
// auto-instrumentations-node adds an instrumentation, the typecheck fails until it is listed below,
// so nothing new starts patching modules unnoticed.
//
// The standard Node variables still work, to narrow the five, never to add to them:
// OTEL_NODE_DISABLED_INSTRUMENTATIONS=runtime-node turns one off, OTEL_NODE_ENABLED_INSTRUMENTATIONS=
// http,express keeps only those. An explicit `enabled: false` here wins over both.

import {
  getNodeAutoInstrumentations,
  type InstrumentationConfigMap,
} from '@opentelemetry/auto-instrumentations-node';
import { ExpressLayerType } from '@opentelemetry/instrumentation-express';
import { PROBE_PATHS } from './http.ts';

const OFF = { enabled: false };

export function instrumentationConfig(): Required<InstrumentationConfigMap> {
  return {
    // Incoming requests (server spans, http.server.request.duration) and http/https client calls.
    // instrumentation-http >= 0.222 emits only the stable HTTP semantic conventions (span attributes
    // and the http.*.request.duration metrics in seconds): OTEL_SEMCONV_STABILITY_OPT_IN is no
    // longer needed and no longer read.
    // Liveness and readiness probes (GET, every few seconds per pod) get no trace and no request
    // metric: they would only fill the trace backend. The access log records them at debug level.
    '@opentelemetry/instrumentation-http': {
      ignoreIncomingRequestHook: (request) =>
        request.method === 'GET' && PROBE_PATHS.has(request.url ?? ''),
    },
    // Express is instrumented for one thing: it reports the matched route template, from which
    // instrumentation-http names the server span "GET /user/:id" and sets http.route on the span and
    // on http.server.request.duration. The per-middleware spans are switched off: one request = one
    // server span per service, not a dozen "middleware - jsonParser" spans.
    '@opentelemetry/instrumentation-express': {
      ignoreLayersType: [
        ExpressLayerType.MIDDLEWARE,
        ExpressLayerType.ROUTER,
        ExpressLayerType.REQUEST_HANDLER,
      ],
    },
    // Node's global fetch() is undici, which instrumentation-http does not see: this gives the
    // gateway's call to user-service its CLIENT span, W3C traceparent/baggage injection and
    // http.client.request.duration.
    '@opentelemetry/instrumentation-undici': {},
    // Log correlation only: trace_id, span_id, trace_flags in every record written inside a span.
    // Log SENDING is off because pino-opentelemetry-transport already exports every record; with
    // both on, each record would reach the collector twice.
    '@opentelemetry/instrumentation-pino': { disableLogSending: true },
    // nodejs.eventloop.*, v8js.* runtime metrics.
    '@opentelemetry/instrumentation-runtime-node': {},

    // Everything else is off: modules these services do not use, and the noisy ones they do use
    // (fs, dns, net would add spans under every request).
    '@opentelemetry/instrumentation-amqplib': OFF,
    '@opentelemetry/instrumentation-aws-lambda': OFF,
    '@opentelemetry/instrumentation-aws-sdk': OFF,
    '@opentelemetry/instrumentation-bunyan': OFF,
    '@opentelemetry/instrumentation-cassandra-driver': OFF,
    '@opentelemetry/instrumentation-connect': OFF,
    '@opentelemetry/instrumentation-cucumber': OFF,
    '@opentelemetry/instrumentation-dataloader': OFF,
    '@opentelemetry/instrumentation-dns': OFF,
    '@opentelemetry/instrumentation-fs': OFF,
    '@opentelemetry/instrumentation-generic-pool': OFF,
    '@opentelemetry/instrumentation-graphql': OFF,
    '@opentelemetry/instrumentation-grpc': OFF,
    '@opentelemetry/instrumentation-hapi': OFF,
    '@opentelemetry/instrumentation-host-metrics': OFF,
    '@opentelemetry/instrumentation-ioredis': OFF,
    '@opentelemetry/instrumentation-kafkajs': OFF,
    '@opentelemetry/instrumentation-knex': OFF,
    '@opentelemetry/instrumentation-koa': OFF,
    '@opentelemetry/instrumentation-lru-memoizer': OFF,
    '@opentelemetry/instrumentation-memcached': OFF,
    '@opentelemetry/instrumentation-mongodb': OFF,
    '@opentelemetry/instrumentation-mongoose': OFF,
    '@opentelemetry/instrumentation-mysql': OFF,
    '@opentelemetry/instrumentation-mysql2': OFF,
    '@opentelemetry/instrumentation-nestjs-core': OFF,
    '@opentelemetry/instrumentation-net': OFF,
    '@opentelemetry/instrumentation-openai': OFF,
    '@opentelemetry/instrumentation-oracledb': OFF,
    '@opentelemetry/instrumentation-pg': OFF,
    '@opentelemetry/instrumentation-redis': OFF,
    '@opentelemetry/instrumentation-restify': OFF,
    '@opentelemetry/instrumentation-router': OFF,
    '@opentelemetry/instrumentation-socket.io': OFF,
    '@opentelemetry/instrumentation-tedious': OFF,
    '@opentelemetry/instrumentation-winston': OFF,
  };
}

/** Constructs (and thereby enables) the allowed instrumentations. */
export function createInstrumentations() {
  return getNodeAutoInstrumentations(instrumentationConfig());
}
