// Traffic statistics: percentiles, counts by status and failure, phases, and their lines.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PhasedStats } from '@nos/traffic-generator/phased-stats';
import { percentile, TrafficStats } from '@nos/traffic-generator/stats';
import { formatProgress, formatSummary } from '@nos/traffic-generator/stats-format';
import { seededRandom } from '@nos/user-service/simulated-database';

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
