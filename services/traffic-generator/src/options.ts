// Command-line options, each also settable by an environment variable (for the compose profile).
// The command line wins over the environment. Pure.

import { parseArgs } from 'node:util';
import { baseUrl, parseHttpUrl } from '@nos/fetch-helpers';

export interface TrafficOptions {
  rate: number;
  /** Seconds; 0 = until interrupted (mixed scenario only). */
  duration: number;
  scenario: 'mixed' | 'incident';
  gatewayUrl: string;
  userServiceUrl: string;
  errorRate: number;
  latencyMs: number;
  concurrency: number;
  timeoutMs: number;
  /** Seconds to wait for the gateway to become reachable before giving up. */
  wait: number;
  help: boolean;
}

export const USAGE = `Usage: npm run traffic -- [options]

Sends a mix of requests to the api-gateway: 70 % existing users (200), 15 % unknown users (404),
15 % invalid ids (400). The incident scenario turns user-service faults on for the middle third of the
run and off again.

Options (environment variable in brackets):
  --rate <n>              requests per second (default 10)                  [TRAFFIC_RATE]
  --duration <s>          seconds to run, 0 = until Ctrl-C (default 60)      [TRAFFIC_DURATION]
  --scenario <name>       mixed | incident (default mixed)                   [TRAFFIC_SCENARIO]
  --gateway-url <url>     api-gateway (default http://localhost:8080)        [GATEWAY_URL]
  --user-service-url <u>  user-service, for incident faults
                          (default http://localhost:8081)                    [USER_SERVICE_URL]
  --error-rate <0..1>     incident: share of failing queries (default 0.5)   [TRAFFIC_ERROR_RATE]
  --latency-ms <n>        incident: added query latency (default 300)        [TRAFFIC_LATENCY_MS]
  --concurrency <n>       max requests in flight (default 100)               [TRAFFIC_CONCURRENCY]
  --timeout-ms <n>        per-request timeout (default 10000)                [TRAFFIC_TIMEOUT_MS]
  --wait <s>              wait up to s seconds for the gateway (default 0)   [TRAFFIC_WAIT]
  -h, --help              this text

Exit code: 0 when every request got an HTTP response (whatever its status: 4xx and 5xx are
answers, and the incident scenario provokes 502s); 1 when any request got none (connection
refused or reset, timeout: the summary names each failure and how often), when the gateway is
unreachable at the start, or when an option is invalid; 130 after a second Ctrl-C.
`;

export class UsageError extends Error {}

type Env = Readonly<Record<string, string | undefined>>;

function number(
  name: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
  integer = false,
): number {
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (
    !Number.isFinite(value) ||
    value < min ||
    value > max ||
    (integer && !Number.isInteger(value))
  ) {
    throw new UsageError(
      `${name} must be ${integer ? 'an integer' : 'a number'} between ${min} and ${max} (got ${JSON.stringify(raw)})`,
    );
  }
  return value;
}

function url(name: string, raw: string | undefined, fallback: string): string {
  const text = raw?.trim() || fallback;
  const parsed = parseHttpUrl(text);
  if (typeof parsed === 'string') {
    throw new UsageError(`${name} must be an http(s) URL (got ${JSON.stringify(text)})`);
  }
  return baseUrl(parsed);
}

export function parseOptions(argv: readonly string[], env: Env): TrafficOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        rate: { type: 'string' },
        duration: { type: 'string' },
        scenario: { type: 'string' },
        'gateway-url': { type: 'string' },
        'user-service-url': { type: 'string' },
        'error-rate': { type: 'string' },
        'latency-ms': { type: 'string' },
        concurrency: { type: 'string' },
        'timeout-ms': { type: 'string' },
        wait: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const pick = (option: string, variable: string) =>
    (values[option] as string | undefined) ?? env[variable];

  const scenario = (pick('scenario', 'TRAFFIC_SCENARIO') ?? 'mixed').trim();
  if (scenario !== 'mixed' && scenario !== 'incident') {
    throw new UsageError(`--scenario must be mixed or incident (got ${JSON.stringify(scenario)})`);
  }
  const options: TrafficOptions = {
    rate: number('--rate', pick('rate', 'TRAFFIC_RATE'), 10, 0.1, 10_000),
    duration: number('--duration', pick('duration', 'TRAFFIC_DURATION'), 60, 0, 86_400),
    scenario,
    gatewayUrl: url('--gateway-url', pick('gateway-url', 'GATEWAY_URL'), 'http://localhost:8080'),
    userServiceUrl: url(
      '--user-service-url',
      pick('user-service-url', 'USER_SERVICE_URL'),
      'http://localhost:8081',
    ),
    errorRate: number('--error-rate', pick('error-rate', 'TRAFFIC_ERROR_RATE'), 0.5, 0, 1),
    latencyMs: number(
      '--latency-ms',
      pick('latency-ms', 'TRAFFIC_LATENCY_MS'),
      300,
      0,
      60_000,
      true,
    ),
    concurrency: number(
      '--concurrency',
      pick('concurrency', 'TRAFFIC_CONCURRENCY'),
      100,
      1,
      10_000,
      true,
    ),
    timeoutMs: number(
      '--timeout-ms',
      pick('timeout-ms', 'TRAFFIC_TIMEOUT_MS'),
      10_000,
      1,
      600_000,
      true,
    ),
    wait: number('--wait', pick('wait', 'TRAFFIC_WAIT'), 0, 0, 3_600),
    help: values.help === true,
  };
  if (options.scenario === 'incident' && options.duration === 0) {
    throw new UsageError('the incident scenario needs a --duration (its phases are thirds of it)');
  }
  return options;
}
