// The traffic generator against the real services: the incident scenario switches faults on and
// off, the output has periodic progress lines (stdout is not a terminal here) and a summary; a clear
// error when the gateway is down.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  freePort,
  repoRoot,
  startService,
  type ServiceProcess,
} from '../support/service-process.ts';

let userService: ServiceProcess;
let gateway: ServiceProcess;

before(async () => {
  // Telemetry is not what is tested here.
  const env = { OTEL_SDK_DISABLED: 'true' };
  userService = await startService('user-service', env);
  gateway = await startService('api-gateway', { ...env, USER_SERVICE_URL: userService.url });
});

after(async () => {
  await Promise.all([gateway?.stop(), userService?.stop()]);
});

async function traffic(args: string[], env: Record<string, string> = {}) {
  const child = spawn(
    process.execPath,
    [join(repoRoot, 'services/traffic-generator/src/cli.ts'), ...args],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = await once(child, 'exit');
  return { code: code as number, stdout, stderr };
}

test('incident scenario: faults on for the middle third, then reset; progress and summary', async () => {
  const faultsSeen: string[] = [];
  const poll = setInterval(() => {
    fetch(`${userService.url}/admin/faults`)
      .then((r) => r.text())
      .then(
        (body) => faultsSeen.push(body),
        () => {},
      );
  }, 100);
  const run = await traffic(
    [
      '--rate',
      '60',
      '--duration',
      '3',
      '--scenario',
      'incident',
      '--error-rate',
      '1',
      '--latency-ms',
      '0',
    ],
    {
      GATEWAY_URL: gateway.url,
      USER_SERVICE_URL: userService.url,
    },
  );
  clearInterval(poll);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /traffic: incident scenario, 60\/s for 3s/);
  assert.match(run.stdout, /user-service faults on: \{"errorRate":1,"latencyMs":0\}/);
  assert.match(run.stdout, /user-service faults off/);
  assert.match(
    run.stdout,
    /t=0s {2}\[baseline\] {2}sent [1-9]\d* .* p50 [\d.]+ms/,
    'a progress line (not a terminal: the first with the first responses, then one every 5 s)',
  );
  assert.doesNotMatch(run.stdout, /p50 0\.0ms/, 'no percentiles made up from no responses');
  assert.match(run.stdout, /by phase/);
  assert.match(run.stdout, /\n {2}baseline +\d+ requests +200:\d+/);
  assert.match(run.stdout, /\n {2}incident +\d+ requests +.*\b502:\d+/);
  assert.match(run.stdout, /\n {2}recovery +\d+ requests +200:\d+/);
  assert.doesNotMatch(run.stdout, /\n {2}recovery .*\b502:/, 'faults were off in the recovery');
  // Paced by the clock, so a loaded machine sends fewer, never more than rate × duration; what is
  // asserted is that every request sent is counted once: in the statuses and in exactly one phase.
  const total = Number(/requests {3}(\d+) in/.exec(run.stdout)?.[1]);
  assert.ok(total >= 1 && total <= 60 * 3, `at most 180 requests: ${total}`);
  const statuses = /statuses {3}(.*)/.exec(run.stdout)?.[1] ?? '';
  for (const status of ['200', '400', '404', '502'])
    assert.match(statuses, new RegExp(`\\b${status}:\\d+`), statuses);
  const counts = (text: string): number =>
    [...text.matchAll(/\b\d{3}:(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
  assert.equal(counts(statuses), total, `the statuses add up to the requests: ${statuses}`);
  const phases = [...run.stdout.matchAll(/\n {2}(?:baseline|incident|recovery) +(\d+) requests/g)];
  assert.equal(phases.length, 3, 'one summary line per phase');
  assert.equal(
    phases.reduce((sum, m) => sum + Number(m[1]), 0),
    total,
    'the phases add up to the requests',
  );
  assert.match(run.stdout, /latency {4}p50 [\d.]+ms {2}p95 [\d.]+ms/);
  assert.ok(
    faultsSeen.some((f) => f.includes('"errorRate":1')),
    'faults were on at some point',
  );
  assert.deepEqual(await (await fetch(`${userService.url}/admin/faults`)).json(), {
    errorRate: 0,
    latencyMs: 0,
  });
});

test('a clear error and exit code 1 when the gateway is down', async () => {
  const port = await freePort();
  const run = await traffic(['--duration', '1', '--gateway-url', `http://127.0.0.1:${port}`]);
  assert.equal(run.code, 1);
  assert.match(
    run.stderr,
    new RegExp(`cannot reach the api-gateway at http://127.0.0.1:${port} \\(ECONNREFUSED\\)`),
  );
  assert.match(run.stderr, /npm run start:api-gateway/);
});

test('the gateway dies mid-run: the failures are named and the exit code is 1', async () => {
  const doomed = await startService('api-gateway', {
    OTEL_SDK_DISABLED: 'true',
    USER_SERVICE_URL: userService.url,
  });
  const running = traffic(['--rate', '50', '--duration', '3', '--gateway-url', doomed.url]);
  await new Promise((resolve) => setTimeout(resolve, 1200));
  doomed.signal('SIGKILL');
  const run = await running;
  assert.equal(run.code, 1, run.stdout);
  assert.match(run.stdout, /statuses {3}.*\b200:\d+/, 'answers before the gateway died');
  assert.match(run.stdout, /errors {5}.*ECONNREFUSED ×\d+.* \(no HTTP response\)/);
  assert.match(
    run.stderr,
    /traffic: \d+ of \d+ requests got no HTTP response \(.*ECONNREFUSED ×\d+.*\): exit code 1/,
  );
});

test('Ctrl-C on `npm run traffic` (SIGINT to the process group): one stop, summary, exit 0', async () => {
  // npm leads its own process group, as the foreground job of a terminal does.
  const npm = spawn(
    'npm',
    ['run', '--silent', 'traffic', '--', '--rate', '20', '--duration', '0'],
    {
      cwd: repoRoot,
      env: { ...process.env, GATEWAY_URL: gateway.url },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  let stdout = '';
  let stderr = '';
  npm.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  npm.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(npm, 'exit');
  const deadline = Date.now() + 20_000;
  while (!/sent [1-9]/.test(stdout) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.ok(npm.pid && npm.pid !== process.pid);
  process.kill(-npm.pid, 'SIGINT');
  const [code] = await exited;
  assert.equal(code, 0, `exit code (stderr: ${stderr})`);
  assert.match(stdout, /requests {3}\d+ in/, 'the summary was printed');
});

test('invalid options: usage and exit code 1', async () => {
  const run = await traffic(['--rate', 'lots']);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /--rate must be a number/);
  assert.match(run.stderr, /Usage: npm run traffic/);
});
