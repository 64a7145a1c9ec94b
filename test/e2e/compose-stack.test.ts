// End to end on what users run: `docker compose up` of the project's docker-compose.yaml, with the
// test-only override of test/support/compose-override.ts (local images where no registry is reachable;
// Grafana, Loki and Tempo, whose code is AGPL and never runs here, replaced by recording stand-ins at
// their service names, ports and paths). The services are built from their Dockerfiles, the collector
// agent and gateway run collector/agent.yaml and collector/gateway.yaml, Prometheus
// backends/prometheus.yaml: all real. Checked through the engine's
// API, Prometheus' HTTP API, the files the stand-ins wrote (what Tempo and Loki would have received)
// and the containers' stdout.
//   - containers: healthy through the file's healthchecks and depends_on, non-root, read-only root where
//     the file says so, ports on 127.0.0.1 only;
//   - pipeline: one request = one trace across both containers; its logs once each, with trace ids and
//     the resource attributes Loki makes labels; counter by outcome, HTTP histograms, span metrics,
//     service graph and exemplars in Prometheus; the gateway restarted during traffic loses no trace,
//     the agent restarted during traffic loses no request;
//   - after a staged 502 and the traffic generator's incident scenario (run as the compose service):
//     every PromQL query of docs/walkthrough.md and of every dashboard returns data from Prometheus, the
//     alert expressions evaluate, every LogQL and TraceQL query (walkthrough, dashboards, data source
//     correlations) parses and selects what the stand-ins received (test/support/query-contract.ts);
//   - `docker compose stop` drains: SIGTERM, exit 0, an in-flight request completes, its telemetry lands
//     (at the latest from the persistent queues when the stack starts again).
// Under CI=true a missing engine or compose CLI fails every test; elsewhere the file skips loudly.
//
// The stack starts once, in this file; the tests are grouped by subject in test/e2e/compose/ and
// registered here in the order they run (test/support/README.md lists the support modules).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { assertPortFree, buildLocalImages, ComposeStack } from '../support/compose-stack.ts';
import { requireTool } from '../support/tools.ts';
import { repoRoot } from '../support/versions.ts';
import { containerTests } from './compose/containers.ts';
import { incidentTests } from './compose/queries.ts';
import { pipelineTests } from './compose/pipeline.ts';
import { shutdownTests } from './compose/shutdown.ts';
import {
  baseServices,
  currentStack,
  engineUp,
  seconds,
  setStack,
  skipReason,
  startedAt,
  timings,
} from './compose/stack.ts';

if (skipReason) console.warn(`SKIPPED compose e2e: ${skipReason}`);

before(
  async () => {
    if (skipReason) return;
    const compose = requireTool('docker-compose');
    assert.ok(
      engineUp,
      'a Docker engine answers on /var/run/docker.sock (bash scripts/docker-engine.sh start)',
    );
    buildLocalImages();
    timings.localImagesS = seconds(Date.now() - startedAt);
    const stack = new ComposeStack(compose as string);
    setStack(stack);
    // What a previous run that could not clean up left behind.
    await stack.must(['--profile', 'traffic', 'down', '--volumes', '--remove-orphans'], 180_000);
    // docker-compose.yaml binds fixed ports on 127.0.0.1 (the override keeps them): nothing else may.
    for (const [name, service] of Object.entries(baseServices)) {
      for (const port of service.ports ?? []) {
        const host = Number(port.split(':').at(-2));
        await assertPortFree(host).catch((error: unknown) => {
          throw new Error(`${name}: ${String(error)}`);
        });
      }
    }
    // The services' images: `docker compose build` with the override's NODE_IMAGE (classic builder).
    const built = Date.now();
    await stack.must(['--profile', 'traffic', 'build'], 1_200_000);
    timings.serviceImagesS = seconds(Date.now() - built);
    const up = Date.now();
    // Up through the README's quick start (scripts/compose-up.sh), as a user starts it.
    const quickStart = await stack.quickStart(['--wait-timeout', '300'], 400_000);
    assert.equal(
      quickStart.status,
      0,
      `scripts/compose-up.sh exited ${quickStart.status}:\n${quickStart.stderr.slice(-4000)}`,
    );
    const password = /^GRAFANA_ADMIN_PASSWORD=(\w{32})$/m.exec(
      readFileSync(join(repoRoot, '.env'), 'utf8'),
    )?.[1];
    assert.ok(password, 'the quick start keeps a random 32-hex-digit Grafana password in .env');
    assert.match(quickStart.stdout, new RegExp(`user admin, password ${password}`));
    timings.upToHealthyS = seconds(Date.now() - up);
    console.log(
      `# compose up to healthy: ${timings.upToHealthyS}s; timings ${JSON.stringify(timings)}`,
    );
  },
  { timeout: 1_800_000 },
);

after(
  async () => {
    const stack = currentStack();
    if (stack) {
      const { dir } = stack;
      await stack.down();
      if (process.env.NOS_KEEP_STACK_DATA === '1') console.log(`# stand-in records kept in ${dir}`);
    }
  },
  { timeout: 240_000 },
);

containerTests();
pipelineTests();
incidentTests();
shutdownTests();
