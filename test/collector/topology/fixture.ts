// The collector topology that test/collector/topology.test.ts starts once (test/support/topology.ts),
// and what its scenario modules share: whether it can run here, the services as local processes (one
// pair per scenario, series tagged with their own service.instance.id), faults, and the reporting.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { engineAnswers } from '../../support/compose-stack.ts';
import { allowedStatuses, type Sent } from '../../support/paced-traffic.ts';
import { startService, type ServiceProcess } from '../../support/service-process.ts';
import { inCI } from '../../support/tools.ts';
import { images, missingImages, PORTS, Topology } from '../../support/topology.ts';

export const MiB = 1024 * 1024;
/** How long each outage lasts (NOS_TOPOLOGY_OUTAGE_S shortens it when debugging). */
export const OUTAGE_MS = Number(process.env.NOS_TOPOLOGY_OUTAGE_S ?? 60) * 1000;
/** Spans of one request that reaches user-service (telemetry.test.ts): 2 per service. */
export const SPANS_PER_REQUEST = 4;
/** The services' metric export interval in these tests (FAST_TELEMETRY_ENV). */
export const METRIC_INTERVAL_MS = 500;
/** Reports the numbers behind the assertions (the spec reporter shows them). */
export const report = (line: string): void => console.log(`topology: ${line}`);

const engineUp = await engineAnswers();
const missing = engineUp
  ? await missingImages([images.collector(), images.prometheus(), images.recorder()])
  : [];
const skipReason = !engineUp
  ? 'no Docker engine answers (bash scripts/docker-engine.sh start)'
  : missing.length > 0
    ? `missing images ${missing.join(', ')} (bash scripts/build-images.sh)`
    : undefined;

let topology: Topology | undefined;
export const stack = (t: TestContext): Topology | undefined => {
  if (skipReason && !inCI) {
    t.skip(skipReason);
    return undefined;
  }
  assert.ok(topology, skipReason ?? 'the topology is up (the before hook failed)');
  return topology;
};

/** Starts the topology with one gateway, or fails (under CI) or skips loudly when it cannot run. */
export async function startTopology(): Promise<void> {
  if (skipReason) {
    if (inCI) throw new Error(skipReason);
    console.warn(`SKIPPED collector topology: ${skipReason}`);
    return;
  }
  topology = await Topology.start();
  await topology.startGateway(1);
}

export async function stopTopology(): Promise<void> {
  await services?.stop();
  // NOS_KEEP_TOPOLOGY=1 leaves the containers up for a look (remove them with `docker rm -f`).
  if (process.env.NOS_KEEP_TOPOLOGY !== '1') await topology?.down();
}

// ---------------------------------------------------------------------------------------------------
// The services, one pair per scenario.

export interface Services {
  gateway: ServiceProcess;
  user: ServiceProcess;
  tag: string;
  stop: () => Promise<void>;
}
let services: Services | undefined;

/**
 * Starts both services against the agent; their series carry instance="<tag>-<service>". With
 * fastTelemetry (the default) they export every 100 ms (spans, logs) and 500 ms (metrics).
 */
export async function startServices(
  tag: string,
  env: Record<string, string> = {},
  fastTelemetry = true,
): Promise<Services> {
  await services?.stop();
  const otel = (name: string) => ({
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${PORTS.agentOtlpGrpc}`,
    OTEL_RESOURCE_ATTRIBUTES: `service.instance.id=${tag}-${name}`,
    ...env,
  });
  const user = await startService('user-service', otel('user-service'), {
    port: PORTS.userService,
    fastTelemetry,
  });
  const gateway = await startService(
    'api-gateway',
    { ...otel('api-gateway'), USER_SERVICE_URL: user.url },
    { port: PORTS.apiGateway, fastTelemetry },
  ).catch(async (error: unknown) => {
    await user.stop();
    throw error;
  });
  const started: Services = {
    gateway,
    user,
    tag,
    stop: async () => {
      await Promise.all([gateway.stop(), user.stop()]);
      if (services === started) services = undefined;
    },
  };
  services = started;
  return started;
}

export async function setFaults(s: Services, faults: { errorRate?: number; latencyMs?: number }) {
  const response = await fetch(`${s.user.url}/admin/faults`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(faults),
    signal: AbortSignal.timeout(10_000),
  });
  assert.equal(response.status, 200, await response.text());
}

/**
 * Every request was answered, with a status its path allows, or 504: the gateway's budget for
 * user-service is a clock, which a starved event loop on a loaded machine can overrun; such a
 * request is still answered, traced, logged and counted (outcome timeout), which is what is asserted.
 */
export function assertAnswered(sent: Sent[]): void {
  for (const s of sent) {
    const allowed = [...allowedStatuses(s.path), 504];
    assert.ok(allowed.includes(s.status), `${s.path} answered ${s.status}`);
    assert.match(s.traceId, /^[0-9a-f]{32}$/);
  }
}

export const ms = (from: number, to = Date.now()): string => `${((to - from) / 1000).toFixed(1)} s`;
