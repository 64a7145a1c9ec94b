// OpenTelemetry's own problems, reported without flooding the log.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RateLimitedReporter, errorMessage, type ReportLine } from '@nos/telemetry/error-reporter';

describe('rate-limited reporter', () => {
  test('first occurrence at once, repeats counted and summarised after the window', () => {
    let now = 0;
    const lines: ReportLine[] = [];
    const reporter = new RateLimitedReporter({
      windowMs: 60_000,
      now: () => now,
      write: (l) => lines.push(l),
    });
    reporter.report('error', 'export failed: connect ECONNREFUSED 127.0.0.1:4317 (attempt 1)');
    for (let i = 2; i <= 100; i++) {
      now += 500;
      reporter.report('error', `export failed: connect ECONNREFUSED 127.0.0.1:4317 (attempt ${i})`);
    }
    assert.equal(lines.length, 1, 'variable numbers do not defeat the grouping');
    now = 61_000;
    reporter.report('error', 'export failed: connect ECONNREFUSED 127.0.0.1:4317 (attempt 101)');
    assert.equal(lines.length, 2);
    assert.equal(lines[1]?.suppressed, 99);
    reporter.report('warn', 'another problem');
    assert.equal(lines.length, 3);
  });

  test('memory is bounded by the number of distinct messages kept', () => {
    const lines: ReportLine[] = [];
    const reporter = new RateLimitedReporter({
      windowMs: 60_000,
      maxKeys: 3,
      now: () => 0,
      write: (l) => lines.push(l),
    });
    for (const word of ['alpha', 'beta', 'gamma', 'delta', 'alpha']) reporter.report('error', word);
    assert.equal(lines.length, 5, 'alpha was forgotten (oldest) and is reported again');
  });

  test('errorMessage', () => {
    assert.equal(errorMessage(Object.assign(new Error('boom'), { code: 14 })), 'boom (code 14)');
    assert.equal(errorMessage('text'), 'text');
    assert.equal(errorMessage({ a: 1 }), '{"a":1}');
  });
});
