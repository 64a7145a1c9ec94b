// The documented start, `npm start --workspace services/<name>`, under a supervisor: a SIGTERM sent
// to the PID that command returns (npm's) reaches the service, which drains and exits 0, and no
// node process outlives npm. A terminal's Ctrl-C (SIGINT to the whole process group, npm forwarding
// it once more) is one request to stop, not two.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { startService, type ServiceProcess } from '../support/service-process.ts';

const started: ServiceProcess[] = [];
after(async () => {
  await Promise.all(started.map((s) => s.stop()));
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function assertDrainedAndGone(s: ServiceProcess, code: number | null): void {
  const messages = s.records.map((r) => r.msg);
  assert.ok(messages.includes('shutting down: draining in-flight requests'), 'the drain ran');
  assert.ok(messages.includes('stopped; flushing telemetry'), 'telemetry was flushed');
  assert.equal(code, 0, `npm exit code (stderr: ${s.stderr.join(' | ')})`);
  assert.ok(!s.stderr.some((line) => line.includes('received again')), 'one stop, not two');
  assert.equal(alive(s.pid), false, `the node process ${s.pid} did not outlive npm`);
}

describe('SIGTERM to the npm process', () => {
  test('user-service: an in-flight request completes, exit 0, no orphan', async () => {
    const s = await startService('user-service', { OTEL_SDK_DISABLED: 'true' });
    started.push(s);
    await fetch(`${s.url}/admin/faults`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ latencyMs: 800 }),
    });
    const inFlight = fetch(`${s.url}/users/123`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.ok(s.npm.pid && s.npm.pid !== s.pid, 'npm and node are two processes');
    process.kill(s.npm.pid, 'SIGTERM');
    const response = await inFlight;
    assert.equal(response.status, 200);
    assertDrainedAndGone(s, await s.exited);
  });

  test('api-gateway: exit 0, no orphan', async () => {
    const s = await startService('api-gateway', {
      OTEL_SDK_DISABLED: 'true',
      USER_SERVICE_URL: 'http://127.0.0.1:1',
    });
    started.push(s);
    process.kill(s.npm.pid ?? 0, 'SIGTERM');
    assertDrainedAndGone(s, await s.exited);
  });
});

test('Ctrl-C in a terminal (SIGINT to the process group): one drain, exit 0', async () => {
  const s = await startService('api-gateway', {
    OTEL_SDK_DISABLED: 'true',
    USER_SERVICE_URL: 'http://127.0.0.1:1',
  });
  started.push(s);
  // npm leads its own process group: signal the group, never ours.
  const group = s.npm.pid ?? 0;
  assert.ok(group > 0 && group !== process.pid);
  process.kill(-group, 'SIGINT');
  assertDrainedAndGone(s, await s.exited);
});
