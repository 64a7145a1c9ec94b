// Traffic generator: statistics, request mix, incident phases, options.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { parseOptions, UsageError } from '../../services/traffic-generator/src/options.ts';
import {
  dueRequests,
  incidentPhase,
  pickRequest,
} from '../../services/traffic-generator/src/scenario.ts';
import { failureName } from '../../services/traffic-generator/src/failure.ts';
import {
  formatProgress,
  formatSummary,
  percentile,
  PhasedStats,
  TrafficStats,
} from '../../services/traffic-generator/src/stats.ts';
import { seededRandom } from '../../services/user-service/src/users.ts';

describe('percentile (nearest rank)', () => {
  test('small arrays', () => {
    assert.equal(percentile([], 50), 0);
    assert.equal(percentile([7], 95), 7);
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(values, 50), 50);
    assert.equal(percentile(values, 95), 95);
    assert.equal(percentile(values, 99), 99);
    assert.equal(percentile(values, 100), 100);
    assert.equal(percentile(values, 0), 1);
    assert.equal(percentile([1, 2, 3, 4], 50), 2);
  });
});

describe('TrafficStats', () => {
  test('counts by status and failure, rate, percentiles of the answers', () => {
    const stats = new TrafficStats();
    for (let i = 1; i <= 100; i++)
      stats.record(i <= 80 ? 200 : i <= 90 ? 404 : 'ECONNREFUSED', i, 1000 + i * 10);
    const s = stats.snapshot(3000, 1000);
    assert.equal(s.total, 100);
    assert.deepEqual(s.byStatus, { 200: 80, 404: 10, ECONNREFUSED: 10 });
    assert.deepEqual(s.errors, { ECONNREFUSED: 10 });
    assert.equal(s.failed, 10);
    assert.equal(stats.count(200), 80);
    assert.equal(s.rate, 50);
    // The 10 failures (latencies 91..100) are not response times.
    assert.equal(s.p50, 45);
    assert.equal(s.p95, 86);
    assert.equal(s.max, 90);
  });

  test('recent window: only the last seconds count for the live line', () => {
    const stats = new TrafficStats();
    for (let i = 0; i < 10; i++) stats.record(200, 1000, i * 100); // old and slow
    for (let i = 0; i < 10; i++) stats.record(200, 10, 10_000 + i * 100); // recent and fast
    const s = stats.snapshot(11_000, 0, 5_000);
    assert.equal(s.recent.p95, 10);
    assert.equal(s.recent.rate, 2);
    assert.equal(s.p95, 1000);
  });

  test('bounded memory: reservoir sampling beyond capacity keeps percentiles close', () => {
    const stats = new TrafficStats({ capacity: 1000, windowSize: 100, random: seededRandom(1) });
    for (let i = 0; i < 100_000; i++) stats.record(200, i % 1000, i);
    const s = stats.snapshot(100_000, 0);
    assert.equal(s.total, 100_000);
    assert.ok(Math.abs(s.p50 - 500) < 60, `p50 ${s.p50}`);
    assert.ok(Math.abs(s.p95 - 950) < 30, `p95 ${s.p95}`);
  });

  test('formatting', () => {
    const stats = new TrafficStats();
    assert.match(formatProgress(stats.snapshot(0, 0)), /no responses yet/);
    stats.record(200, 12.3, 100);
    stats.record(502, 3.5, 200);
    const line = formatProgress(stats.snapshot(1000, 0), { phase: 'incident' });
    assert.match(
      line,
      /t=1s {2}\[incident\] {2}sent 2 {2}rate 2\.0\/s {2}200:1 502:1 {2}p50 3\.5ms p95 12ms/,
    );
    const summary = formatSummary(stats.snapshot(2000, 0), { skipped: 0, invalid: 3 });
    assert.match(summary, /requests {3}2 in 2\.0s \(1\.0\/s\)/);
    assert.match(summary, /invalid {4}3/);
    assert.doesNotMatch(summary, /skipped/);
    assert.doesNotMatch(summary, /errors/);
  });

  test('no percentiles made up from nothing', () => {
    const stats = new TrafficStats();
    stats.record(200, 5, 0);
    stats.record('ECONNREFUSED', 1, 9_000);
    const line = formatProgress(stats.snapshot(10_000, 0));
    assert.match(line, /no responses in the last 5s$/);
    assert.doesNotMatch(line, /p50/);
  });

  test('failures are named and counted in the summary', () => {
    const stats = new TrafficStats();
    stats.record(200, 5, 0);
    for (let i = 0; i < 158; i++) stats.record('ECONNREFUSED', 1, 10);
    stats.record('UND_ERR_SOCKET', 1, 10);
    const summary = formatSummary(stats.snapshot(1000, 0));
    assert.match(summary, /statuses {3}200:1\n/);
    assert.match(summary, /errors {5}ECONNREFUSED ×158, UND_ERR_SOCKET ×1 \(no HTTP response\)/);
    assert.match(summary, /latency {4}p50 5\.0ms/);
  });
});

describe('PhasedStats', () => {
  test('no progress line before the first outcome', () => {
    const stats = new PhasedStats(0);
    stats.enter('baseline', 0);
    stats.send();
    assert.equal(stats.progress(500), undefined);
  });

  test("a phase's line shows only the requests sent in that phase", () => {
    const stats = new PhasedStats(0);
    stats.enter('incident', 0);
    const slow = stats.send();
    for (let i = 0; i < 5; i++) stats.send()(502, 900, 1000 + i);
    stats.enter('recovery', 10_000);
    // Sent during the incident, answered during the recovery: still the incident's.
    slow(502, 9_500, 10_100);
    for (let i = 0; i < 4; i++) stats.send()(200, 3, 10_200 + i);
    const line = stats.progress(11_000) ?? '';
    assert.match(
      line,
      /^t=11s {2}\[recovery\] {2}sent 4 {2}rate 4\.0\/s {2}200:4 {2}p50 3\.0ms p95 3\.0ms$/,
    );
  });

  test('the summary has the run, then each phase', () => {
    const stats = new PhasedStats(0);
    for (const [phase, at, status, latency] of [
      ['baseline', 0, 200, 4],
      ['incident', 1000, 502, 300],
      ['recovery', 2000, 200, 5],
    ] as const) {
      stats.enter(phase, at);
      for (let i = 0; i < 10; i++) stats.send()(status, latency, at + i);
    }
    const summary = stats.summary(3000);
    assert.match(summary, /requests {3}30 in 3\.0s/);
    assert.match(summary, /statuses {3}200:20 502:10/);
    assert.match(summary, /by phase/);
    assert.match(summary, /baseline +10 requests +200:10 +p50 4\.0ms/);
    assert.match(summary, /incident +10 requests +502:10 +p50 300ms/);
    assert.match(summary, /recovery +10 requests +200:10 +p50 5\.0ms/);
  });

  test('a run without phases has no per-phase lines', () => {
    const stats = new PhasedStats(0);
    stats.send()(200, 1, 10);
    assert.match(stats.progress(1000) ?? '', /^t=1s {2}sent 1/);
    assert.doesNotMatch(stats.summary(1000), /by phase/);
  });
});

describe('failureName', () => {
  test("fetch's failures by their code or name", async () => {
    const refused = new TypeError('fetch failed', {
      cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
    });
    assert.equal(failureName(refused), 'ECONNREFUSED');
    // A server that accepts and never answers.
    const silent = createServer(() => {});
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const { port } = silent.address() as AddressInfo;
    const timeout = await fetch(`http://127.0.0.1:${port}/`, {
      signal: AbortSignal.timeout(50),
    }).catch((error: unknown) => error);
    silent.close();
    assert.equal(failureName(timeout), 'TimeoutError');
    assert.equal(failureName(new Error('something odd')), 'something odd');
  });
});

describe('scenario', () => {
  test('the mix: ~70 % existing users, ~15 % unknown, ~15 % invalid', () => {
    const random = seededRandom(3);
    const counts = { valid: 0, unknown: 0, invalid: 0 };
    let user123 = 0;
    for (let i = 0; i < 10_000; i++) {
      const r = pickRequest(random);
      counts[r.kind] += 1;
      const id = Number(r.path.slice('/user/'.length));
      if (r.kind === 'valid') {
        assert.ok(id >= 1 && id <= 500, r.path);
        if (id === 123) user123 += 1;
      }
      if (r.kind === 'unknown') assert.ok(id > 500, r.path);
      if (r.kind === 'invalid')
        assert.ok(!/^[1-9]\d*$/.test(r.path.slice(6)) || id > 2 ** 31, r.path);
    }
    assert.ok(Math.abs(counts.valid - 7000) < 300, JSON.stringify(counts));
    assert.ok(Math.abs(counts.unknown - 1500) < 200, JSON.stringify(counts));
    assert.ok(Math.abs(counts.invalid - 1500) < 200, JSON.stringify(counts));
    assert.ok(user123 > 2000, 'user 123 is a third of the valid requests');
  });

  test('incident phases are thirds; due requests follow the rate', () => {
    assert.equal(incidentPhase(0, 60_000), 'baseline');
    assert.equal(incidentPhase(19_999, 60_000), 'baseline');
    assert.equal(incidentPhase(20_000, 60_000), 'incident');
    assert.equal(incidentPhase(40_000, 60_000), 'recovery');
    assert.equal(dueRequests(0, 20), 0);
    assert.equal(dueRequests(1000, 20), 20);
    assert.equal(dueRequests(1049, 20), 20);
    assert.equal(dueRequests(1050, 20), 21);
    assert.equal(dueRequests(3000, 0.5), 1);
  });
});

describe('options', () => {
  test('defaults', () => {
    const o = parseOptions([], {});
    assert.equal(o.rate, 10);
    assert.equal(o.duration, 60);
    assert.equal(o.scenario, 'mixed');
    assert.equal(o.gatewayUrl, 'http://localhost:8080');
    assert.equal(o.userServiceUrl, 'http://localhost:8081');
  });

  test('command line wins over the environment', () => {
    const env = {
      TRAFFIC_RATE: '5',
      TRAFFIC_SCENARIO: 'incident',
      GATEWAY_URL: 'http://api-gateway:8080/',
      TRAFFIC_DURATION: '30',
    };
    const fromEnv = parseOptions([], env);
    assert.equal(fromEnv.rate, 5);
    assert.equal(fromEnv.scenario, 'incident');
    assert.equal(fromEnv.gatewayUrl, 'http://api-gateway:8080');
    const o = parseOptions(
      ['--rate', '20', '--duration', '90', '--scenario', 'mixed', '--error-rate', '1'],
      env,
    );
    assert.equal(o.rate, 20);
    assert.equal(o.duration, 90);
    assert.equal(o.scenario, 'mixed');
    assert.equal(o.errorRate, 1);
  });

  for (const [argv, message] of [
    [['--rate', '0'], /--rate must be a number between 0.1 and 10000/],
    [['--rate', 'fast'], /--rate/],
    [['--scenario', 'chaos'], /mixed or incident/],
    [['--error-rate', '2'], /--error-rate/],
    [['--latency-ms', '1.5'], /--latency-ms must be an integer/],
    [['--gateway-url', 'localhost:8080'], /--gateway-url must be an http\(s\) URL/],
    [['--scenario', 'incident', '--duration', '0'], /needs a --duration/],
    [['--bogus'], /Unknown option '--bogus'/],
    [['extra'], /positional/],
  ] as const) {
    test(`rejects ${argv.join(' ')}`, () =>
      assert.throws(
        () => parseOptions(argv, {}),
        (e: Error) => e instanceof UsageError && message.test(e.message),
      ));
  }
});
