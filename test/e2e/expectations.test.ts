// The table of end-to-end expectations (test/e2e/expectations.yaml) and its evaluator, without a
// stack: every row is well formed, a Prometheus that answers what a row expects satisfies it, and the
// same row with one expected value changed fails. The compose test runs the rows on the real stack.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { stringify } from 'yaml';
import type { PromSeries } from '../support/backend-api.ts';
import {
  checkExpectation,
  expand,
  loadExpectations,
  phases,
  type ExemplarRow,
  type PromClient,
  type PromqlRow,
  type Row,
  type RowContext,
} from './compose/expectations.ts';

const table = loadExpectations();
const rows = phases.flatMap((phase) => table[phase]);
const promqlRows = rows.filter((r): r is PromqlRow => 'promql' in r);
const exemplarRows = rows.filter((r): r is ExemplarRow => 'exemplars' in r);
const variables = { __since_start: '300s' };
const TRACE = '0af7651916cd43dd8448eb211c80319c';

/** A Prometheus that answers every query with `series` and every exemplar query with `exemplars`. */
function fakeProm(series: PromSeries[], exemplars: { trace_id?: string }[] = []): PromClient {
  return {
    query: () => Promise.resolve(series),
    exemplars: () =>
      Promise.resolve([
        {
          seriesLabels: {},
          exemplars: exemplars.map((labels, i) => ({ labels, value: '0.1', timestamp: i })),
        },
      ]),
  } as PromClient;
}

const context = (prom: PromClient, traceWith: RowContext['traceWith']): RowContext => ({
  prom,
  variables: () => variables,
  startS: 0,
  traceWith,
  timeoutMs: 200,
  intervalMs: 20,
});

/** What a Prometheus that satisfies the row answers: each expected series, with a value above it. */
const answerFor = (row: PromqlRow): PromSeries[] =>
  row.series.map((labels) => ({
    metric: { ...labels, extra: 'ignored' },
    value: [0, String((row.above ?? 0) + 1)],
  }));

describe('test/e2e/expectations.yaml', () => {
  test('has rows in every phase, promql and exemplar rows among them, each name once', () => {
    for (const phase of phases) assert.ok(table[phase].length > 0, phase);
    assert.ok(promqlRows.length > 0 && exemplarRows.length > 0);
    assert.equal(new Set(rows.map((r) => r.name)).size, rows.length);
  });

  test('every query of the table expands with the variables the e2e test provides', () => {
    for (const row of promqlRows) assert.doesNotMatch(expand(row.promql, variables), /\$/);
    assert.throws(
      () => expand('rate(x[$__since_strat])', variables),
      /no value for \$__since_strat/,
    );
  });

  for (const row of promqlRows) {
    test(`${row.name}: holds on the answer it describes, fails with one expected value changed`, async () => {
      const ctx = context(fakeProm(answerFor(row)), () => Promise.resolve());
      await checkExpectation(row, ctx);
      const [label, value] = Object.entries(row.series[0] ?? {})[0] ?? [];
      assert.ok(label !== undefined && value !== undefined);
      const broken: Row = {
        ...row,
        series: [{ ...row.series[0], [label]: `${value}-changed` }, ...row.series.slice(1)],
      };
      await assert.rejects(checkExpectation(broken, ctx), (error: Error) => {
        assert.ok(error.message.startsWith(`${row.name}: Prometheus`), error.message);
        assert.match(error.message, /still not there/);
        return true;
      });
      if (row.above !== undefined) {
        const atBound = answerFor(row).map((s) => ({ ...s, value: [0, String(row.above)] }));
        const low = context(fakeProm(atBound as PromSeries[]), () => Promise.resolve());
        await assert.rejects(checkExpectation(row, low), /still not there/);
      }
    });
  }

  for (const row of exemplarRows) {
    test(`${row.name}: the newest exemplar's trace is looked up, no exemplar fails`, async () => {
      const looked: [string, string[]][] = [];
      const prom = fakeProm([], [{ trace_id: 'f'.repeat(32) }, { trace_id: TRACE }]);
      await checkExpectation(
        row,
        context(prom, (traceId, services) => {
          looked.push([traceId, services]);
          return Promise.resolve();
        }),
      );
      assert.deepEqual(looked, [[TRACE, row.trace_with]]);
      await assert.rejects(
        checkExpectation(
          row,
          context(fakeProm([]), () => Promise.resolve()),
        ),
        /still not there/,
      );
      const missing = context(prom, () => Promise.reject(new Error('trace never landed')));
      await assert.rejects(checkExpectation(row, missing), /trace never landed/);
    });
  }

  describe('a malformed table is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nos-expectations-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const load = (doc: unknown) => {
      const path = join(dir, `${Math.random().toString(16).slice(2)}.yaml`);
      writeFileSync(path, stringify(doc));
      return () => loadExpectations(path);
    };
    const good = { name: 'x', promql: 'up', series: [{ job: 'a' }] };
    const cases: [string, unknown, RegExp][] = [
      ['an unknown section', { ...table, later: [good] }, /unknown sections later/],
      ['an empty phase', { ...table, after_incident: [] }, /after_incident: no rows/],
      [
        'a row without series',
        { ...table, after_requests: [{ name: 'x', promql: 'up' }] },
        /no series/,
      ],
      ['a misspelt key', { ...table, after_requests: [{ ...good, abov: 0 }] }, /unknown keys abov/],
      [
        'a number as label value',
        { ...table, after_requests: [{ ...good, series: [{ code: 200 }] }] },
        /strings/,
      ],
      ['a name twice', { ...table, after_requests: [good, good] }, /name "x" twice/],
    ];
    for (const [what, doc, error] of cases) {
      test(what, () => assert.throws(load(doc), error));
    }
  });
});
