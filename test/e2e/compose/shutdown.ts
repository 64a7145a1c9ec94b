// `docker compose stop` drains: SIGTERM, exit 0, an in-flight request completes, its telemetry lands
// (at the latest from the persistent queues when the stack starts again). Registered last: it stops
// the stack.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  call,
  eventually,
  faults,
  FOUND,
  lokiLogs,
  runIncident,
  seconds,
  skipReason,
  tempoSpans,
  theStack,
  timings,
  traceWithServices,
} from './stack.ts';

export function shutdownTests(): void {
  describe('compose: `docker compose stop` drains', { skip: skipReason }, () => {
    test('SIGTERM, exit code 0 for every container; the in-flight request completes and its telemetry lands', async (t) => {
      await runIncident().catch(() => undefined);
      // A slow request: every user-service query takes 1.5 s more (the gateway waits up to 2 s,
      // USER_SERVICE_TIMEOUT_MS), and `stop` comes while it is in flight.
      await faults('PUT', { latencyMs: 1_500 });
      const inFlight = call(FOUND);
      await new Promise((r) => setTimeout(r, 300));
      const stopped = Date.now();
      await theStack().must(['stop'], 180_000);
      timings.stopS = seconds(Date.now() - stopped);
      const answered = await inFlight;
      assert.equal(answered.answered, 200, 'the request in flight at SIGTERM was answered');
      const containers = await theStack().containers();
      const codes = Object.fromEntries(
        [...containers].map(([n, c]) => [n, `${c.State.Status} ${c.State.ExitCode}`]),
      );
      for (const [name, c] of containers) {
        assert.equal(c.State.Status, 'exited', name);
        assert.equal(c.State.ExitCode, 0, `${name} exit code (${JSON.stringify(codes)})`);
      }
      // The agent stopped after the services (depends_on order), the gateway after the agent: the
      // gateway decided the in-flight trace at SIGTERM. What it had not exported by then waits in its
      // persistent queue (a volume) and goes out when the stack starts again.
      const landedAtStop = {
        spans: tempoSpans().filter((s) => s.traceId === answered.traceId).length,
        logs: lokiLogs().filter((l) => l.traceId === answered.traceId).length,
      };
      await theStack().must(['start'], 300_000);
      const spans = await traceWithServices(answered.traceId, 60_000);
      const logs = await eventually(
        `Loki stand-in: logs of trace ${answered.traceId}`,
        async () => {
          const got = lokiLogs().filter((l) => l.traceId === answered.traceId);
          return got.length > 0 ? got : undefined;
        },
        60_000,
      );
      t.diagnostic(
        `stop took ${timings.stopS}s; exit codes ${JSON.stringify(codes)}; in-flight trace: ${spans.length} spans, ${logs.length} logs (landed before the restart: ${JSON.stringify(landedAtStop)})`,
      );
      const received = {
        tempoSpans: tempoSpans().length,
        tempoTraces: new Set(tempoSpans().map((s) => s.traceId)).size,
        lokiRecords: lokiLogs().length,
        grafanaRecords: theStack().records('grafana.jsonl').length,
      };
      console.log(
        `# stand-ins received: ${JSON.stringify(received)}; timings ${JSON.stringify(timings)}`,
      );
    });
  });
}
