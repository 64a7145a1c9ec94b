// The end-to-end expectations of test/e2e/expectations.yaml: loaded and checked for shape, and each
// row evaluated against a Prometheus API (the compose stack's, or a stand-in in the table's own
// test). Kept free of the compose fixture so that a broken row can be shown to fail without a stack.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { excerpt, poll, type PrometheusApi } from '../../support/backend-api.ts';

export const expectationsPath = join(import.meta.dirname, '..', 'expectations.yaml');

export interface PromqlRow {
  name: string;
  promql: string;
  series: Record<string, string>[];
  above?: number;
}
export interface ExemplarRow {
  name: string;
  exemplars: string;
  trace_with: string[];
}
export type Row = PromqlRow | ExemplarRow;
export const phases = ['after_requests', 'after_incident'] as const;
export type Expectations = Record<(typeof phases)[number], Row[]>;

const fail = (where: string, why: string): never =>
  assert.fail(`expectations.yaml ${where}: ${why}`);

function checkRow(raw: unknown, where: string): Row {
  if (typeof raw !== 'object' || raw === null) return fail(where, 'not a mapping');
  const row = raw as Record<string, unknown>;
  if (typeof row.name !== 'string' || row.name === '') fail(where, 'no name');
  const at = `${where} (${String(row.name)})`;
  const allowed =
    'promql' in row ? ['name', 'promql', 'series', 'above'] : ['name', 'exemplars', 'trace_with'];
  const unknown = Object.keys(row).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) fail(at, `unknown keys ${unknown.join(', ')}`);
  if ('promql' in row) {
    if (typeof row.promql !== 'string') fail(at, 'promql is not a string');
    const series = row.series;
    if (!Array.isArray(series) || series.length === 0) fail(at, 'no series expected');
    for (const s of series as unknown[]) {
      const labels = Object.values((s ?? {}) as Record<string, unknown>);
      if (labels.length === 0 || labels.some((v) => typeof v !== 'string')) {
        fail(at, `series ${JSON.stringify(s)}: label values must be strings`);
      }
    }
    if (row.above !== undefined && typeof row.above !== 'number') fail(at, 'above is no number');
  } else if ('exemplars' in row) {
    if (typeof row.exemplars !== 'string') fail(at, 'exemplars is not a string');
    const services = row.trace_with;
    if (!Array.isArray(services) || services.length === 0) fail(at, 'no trace_with services');
  } else {
    fail(at, 'neither promql nor exemplars');
  }
  return row as unknown as Row;
}

/** The table, every row checked for shape; names are unique (they name the tests). */
export function loadExpectations(path: string = expectationsPath): Expectations {
  const doc = (parse(readFileSync(path, 'utf8')) ?? {}) as Record<string, unknown>;
  const unknown = Object.keys(doc).filter((k) => !(phases as readonly string[]).includes(k));
  if (unknown.length > 0) fail('', `unknown sections ${unknown.join(', ')}`);
  const result = {} as Expectations;
  const names = new Set<string>();
  for (const phase of phases) {
    const rows = doc[phase];
    if (!Array.isArray(rows) || rows.length === 0) fail(phase, 'no rows');
    result[phase] = (rows as unknown[]).map((raw, i) => {
      const row = checkRow(raw, `${phase}[${i}]`);
      if (names.has(row.name)) fail(phase, `name "${row.name}" twice`);
      names.add(row.name);
      return row;
    });
  }
  return result;
}

/** Replaces the table's variables; an unknown one throws, so a typo cannot pass as PromQL. */
export function expand(query: string, values: Readonly<Record<string, string>>): string {
  return query.replace(/\$(__[a-z_]+)/g, (whole, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`no value for ${whole} in: ${query}`);
    return value;
  });
}

export type PromClient = Pick<PrometheusApi, 'query' | 'exemplars'>;

export interface RowContext {
  prom: PromClient;
  /** Values of the table's variables ($__since_start). */
  variables: () => Record<string, string>;
  /** Start of the exemplar search, in seconds. */
  startS: number;
  /** Resolves once the trace has spans of each service (and rejects when it never does). */
  traceWith: (traceId: string, services: string[]) => Promise<unknown>;
  timeoutMs: number;
  intervalMs?: number;
}

const matches = (metric: Record<string, string>, labels: Record<string, string>): boolean =>
  Object.entries(labels).every(([k, v]) => metric[k] === v);

/** Polls a row until it holds; a description of what held, or a failure naming the row. */
export async function checkExpectation(row: Row, ctx: RowContext): Promise<string> {
  const options = { timeoutMs: ctx.timeoutMs, intervalMs: ctx.intervalMs ?? 1_000 };
  if ('promql' in row) {
    const query = expand(row.promql, ctx.variables());
    return poll(
      `${row.name}: Prometheus ${query}`,
      async (note) => {
        const series = await ctx.prom.query(query);
        const missing = row.series.filter(
          (labels) =>
            !series.some(
              (s) =>
                matches(s.metric, labels) &&
                (row.above === undefined || Number(s.value?.[1]) > row.above),
            ),
        );
        note(`missing ${JSON.stringify(missing)} in ${excerpt(series)}`);
        return missing.length === 0
          ? `${query}: ${excerpt(series.map((s) => s.metric))}`
          : undefined;
      },
      options,
    );
  }
  const exemplar = await poll(
    `${row.name}: Prometheus /api/v1/query_exemplars ${row.exemplars}`,
    async (note) => {
      const all = (await ctx.prom.exemplars(row.exemplars, ctx.startS, Date.now() / 1000)).flatMap(
        (r) => r.exemplars,
      );
      note(excerpt(all));
      return all.sort((a, b) => b.timestamp - a.timestamp)[0];
    },
    options,
  );
  const traceId = exemplar.labels.trace_id ?? '';
  assert.match(traceId, /^[0-9a-f]{32}$/, `${row.name}: ${JSON.stringify(exemplar.labels)}`);
  await ctx.traceWith(traceId, row.trace_with);
  return `exemplar trace_id=${traceId} (${exemplar.value}s): a trace of ${row.trace_with.join(', ')}`;
}
