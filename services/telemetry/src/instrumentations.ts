// Which instrumentations run, and how: five, each imported from its own package.
//
// @opentelemetry/auto-instrumentations-node would give the same five through an allowlist, but it
// imports all of its ~40 instrumentations and its cloud resource detectors to construct any of
// them: memory and start-up time for code that never runs (measured in docs/telemetry-cost.md). It
// stays the package of the stock zero-code mode, which is what it is made for.
//
// The standard Node variables still work, to narrow the five, never to add to them:
// OTEL_NODE_DISABLED_INSTRUMENTATIONS=runtime-node turns one off, OTEL_NODE_ENABLED_INSTRUMENTATIONS=
// http,express keeps only those (names without the "@opentelemetry/instrumentation-" prefix, as in
// auto-instrumentations-node).

import type { Instrumentation } from '@opentelemetry/instrumentation';
import {
  ExpressInstrumentation,
  ExpressLayerType,
  type ExpressInstrumentationConfig,
} from '@opentelemetry/instrumentation-express';
import {
  HttpInstrumentation,
  type HttpInstrumentationConfig,
} from '@opentelemetry/instrumentation-http';
import {
  PinoInstrumentation,
  type PinoInstrumentationConfig,
} from '@opentelemetry/instrumentation-pino';
import {
  RuntimeNodeInstrumentation,
  type RuntimeNodeInstrumentationConfig,
} from '@opentelemetry/instrumentation-runtime-node';
import {
  UndiciInstrumentation,
  type UndiciInstrumentationConfig,
} from '@opentelemetry/instrumentation-undici';
import type { Env } from './env.ts';
import { PROBE_PATHS } from './probe-paths.ts';

export interface InstrumentationConfigs {
  http: HttpInstrumentationConfig;
  express: ExpressInstrumentationConfig;
  undici: UndiciInstrumentationConfig;
  pino: PinoInstrumentationConfig;
  'runtime-node': RuntimeNodeInstrumentationConfig;
}
export type InstrumentationName = keyof InstrumentationConfigs;

export function instrumentationConfig(
  options: { logSending?: boolean } = {},
): InstrumentationConfigs {
  return {
    // Incoming requests (server spans, http.server.request.duration) and http/https client calls.
    // instrumentation-http >= 0.222 emits only the stable HTTP semantic conventions (span attributes
    // and the http.*.request.duration metrics in seconds): OTEL_SEMCONV_STABILITY_OPT_IN is no
    // longer needed and no longer read.
    // Liveness and readiness probes (GET, every few seconds per pod) get no trace and no request
    // metric: they would only fill the trace backend. The access log records them at debug level.
    http: {
      ignoreIncomingRequestHook: (request) =>
        request.method === 'GET' && PROBE_PATHS.has(request.url ?? ''),
    },
    // Express is instrumented for one thing: it reports the matched route template, from which
    // instrumentation-http names the server span "GET /user/:id" and sets http.route on the span and
    // on http.server.request.duration. The per-middleware spans are switched off: one request = one
    // server span per service, not a dozen "middleware - jsonParser" spans.
    express: {
      ignoreLayersType: [
        ExpressLayerType.MIDDLEWARE,
        ExpressLayerType.ROUTER,
        ExpressLayerType.REQUEST_HANDLER,
      ],
    },
    // Node's global fetch() is undici, which instrumentation-http does not see: this gives the
    // gateway's call to user-service its CLIENT span, W3C traceparent/baggage injection and
    // http.client.request.duration.
    undici: {},
    // Log correlation only: trace_id, span_id, trace_flags in every record written inside a span.
    // Log SENDING is off because pino-opentelemetry-transport already exports every record; with
    // both on, each record would reach the collector twice.
    pino: { disableLogSending: options.logSending !== true },
    // nodejs.eventloop.*, v8js.* runtime metrics.
    'runtime-node': {},
  };
}

const CONSTRUCTORS: {
  [N in InstrumentationName]: new (config: InstrumentationConfigs[N]) => Instrumentation;
} = {
  http: HttpInstrumentation,
  express: ExpressInstrumentation,
  undici: UndiciInstrumentation,
  pino: PinoInstrumentation,
  'runtime-node': RuntimeNodeInstrumentation,
};

export const INSTRUMENTATION_NAMES = Object.keys(CONSTRUCTORS) as InstrumentationName[];

function nameList(raw: string | undefined): string[] | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  return raw
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
}

/** The five, narrowed by OTEL_NODE_ENABLED_INSTRUMENTATIONS and OTEL_NODE_DISABLED_INSTRUMENTATIONS. */
export function selectInstrumentations(env: Env): InstrumentationName[] {
  const enabled = nameList(env.OTEL_NODE_ENABLED_INSTRUMENTATIONS);
  const disabled = nameList(env.OTEL_NODE_DISABLED_INSTRUMENTATIONS) ?? [];
  return INSTRUMENTATION_NAMES.filter(
    (name) => (enabled === undefined || enabled.includes(name)) && !disabled.includes(name),
  );
}

/** Constructs (and thereby enables) the selected instrumentations. */
export function createInstrumentations(
  env: Env = process.env,
  options: { logSending?: boolean } = {},
): Instrumentation[] {
  const config = instrumentationConfig(options);
  return selectInstrumentations(env).map((name) => {
    const Construct = CONSTRUCTORS[name] as new (
      c: InstrumentationConfigs[typeof name],
    ) => Instrumentation;
    return new Construct(config[name]);
  });
}
