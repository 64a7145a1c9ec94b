// LogQL and TraceQL of the walkthrough, the dashboards and the data source correlations, parsed and
// evaluated over what the Loki and Tempo stand-ins of the compose stack received
// (test/support/query-contract.ts), and the data sources Grafana provisions.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { parse } from 'yaml';
import { lokiSelect, parseLogql, parseTraceql, tempoSelect } from '../../support/query-contract.ts';
import { repoRoot } from '../../support/versions.ts';
import { lokiEntries, tempoSpans } from './stack.ts';

const datasources = (
  parse(
    readFileSync(join(repoRoot, 'grafana/provisioning/datasources/datasources.yaml'), 'utf8'),
  ) as {
    datasources: { uid: string; jsonData?: Record<string, unknown> }[];
  }
).datasources;
export const jsonData = (uid: string): Record<string, unknown> =>
  datasources.find((d) => d.uid === uid)?.jsonData ?? assert.fail(`data source ${uid}`);
export const unescape = (v: string): string => v.split('$$').join('$');

export function checkLogql(t: TestContext, query: string): void {
  const parsed = parseLogql(query);
  assert.deepEqual(parsed.errors, [], `LogQL parse errors in ${query}`);
  const entries = lokiEntries();
  const known = new Set(
    entries.flatMap((e) => [...Object.keys(e.labels), ...Object.keys(e.metadata)]),
  );
  const indexLabels = new Set(entries.flatMap((e) => Object.keys(e.labels)));
  for (const test of parsed.tests) {
    assert.ok(
      (test.stream ? indexLabels : known).has(test.label),
      `${test.stream ? 'index label' : 'label or structured metadata'} ${test.label} of ${query} (known: ${[...known].join(', ')})`,
    );
  }
  for (const label of parsed.groupBy) assert.ok(known.has(label), `by (${label}) of ${query}`);
  const selected = lokiSelect(parsed, entries);
  assert.ok(
    selected.length > 0,
    `${query} selects none of the ${entries.length} records Loki's stand-in received`,
  );
  t.diagnostic(
    `selects ${selected.length} of ${entries.length} records, e.g. ${JSON.stringify(selected.at(-1)?.line)}`,
  );
}

export function checkTraceql(t: TestContext, query: string): void {
  const parsed = parseTraceql(query);
  assert.deepEqual(parsed.errors, [], `TraceQL parse errors in ${query}`);
  const spans = tempoSpans();
  for (const a of parsed.attributes) {
    const has = spans.some(
      (s) =>
        (a.scope !== 'span' && a.name in s.resource) ||
        (a.scope !== 'resource' && a.name in s.attributes),
    );
    assert.ok(has, `attribute ${a.scope}.${a.name} of ${query} on a received span`);
  }
  const matched = tempoSelect(parsed, spans);
  assert.ok(
    matched.length > 0,
    `${query} matches none of the ${spans.length} spans Tempo's stand-in received`,
  );
  t.diagnostic(
    `matches ${matched.length} spans of ${new Set(matched.map((s) => s.traceId)).size} traces`,
  );
}
