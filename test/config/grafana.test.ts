// Grafana provisioning shared by docker compose and the kind stack:
// grafana/provisioning/datasources/datasources.yaml (uids, URLs from the environment, correlations),
// grafana/provisioning/dashboards/dashboards.yaml, and the dashboards in grafana/dashboards/.
// Static checks only; the e2e test runs every dashboard query against real backends.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse, stringify } from 'yaml';
import {
  allDashboardQueries,
  allPanels,
  builtinVariables,
  interpolate,
  loadDashboards,
  parseLabelValues,
  variables,
  variablesUsed,
} from '../support/dashboard-queries.ts';
import { requireTool } from '../support/tools.ts';
import { repoRoot } from '../support/versions.ts';

const datasourcesPath = join(repoRoot, 'grafana/provisioning/datasources/datasources.yaml');
const providerPath = join(repoRoot, 'grafana/provisioning/dashboards/dashboards.yaml');

interface DataSource {
  name: string;
  type: string;
  uid: string;
  url: string;
  access?: string;
  isDefault?: boolean;
  jsonData?: Record<string, unknown>;
}

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

const raw = parse(readFileSync(datasourcesPath, 'utf8')) as {
  apiVersion: number;
  datasources: DataSource[];
};
const byUid = new Map(raw.datasources.map((ds) => [ds.uid, ds]));
const provisionedUids = new Set(byUid.keys());
const envUrls: Record<string, string> = {
  prometheus: 'PROMETHEUS_URL',
  loki: 'LOKI_URL',
  tempo: 'TEMPO_URL',
};

/**
 * Go's os.Expand as Grafana applies it to every string of a provisioning file: the value is split on
 * "$$" (an escaped literal "$"), $NAME / ${NAME} in each part are replaced from `env` (unset: empty),
 * and the parts are joined with "$". (pkg/services/provisioning/values/values.go, interpolateValue.)
 */
function grafanaExpand(value: string, env: Readonly<Record<string, string>>): string {
  const expandPart = (s: string): string => {
    let out = '';
    for (let i = 0; i < s.length; i++) {
      if (s[i] !== '$' || i + 1 >= s.length) {
        out += s[i];
        continue;
      }
      const rest = s.slice(i + 1);
      let name: string;
      let width: number;
      if (rest[0] === '{') {
        const end = rest.indexOf('}');
        if (end < 0) {
          // Go: bad syntax, "${" is eaten.
          i += 1;
          continue;
        }
        name = rest.slice(1, end);
        width = end + 1;
      } else if ('*#$@!?-0123456789'.includes(rest[0] as string)) {
        name = rest[0] as string;
        width = 1;
      } else {
        const m = /^[A-Za-z0-9_]*/.exec(rest)?.[0] ?? '';
        name = m;
        width = m.length;
      }
      if (name === '' && width === 0) {
        out += '$';
        continue;
      }
      out += env[name] ?? '';
      i += width;
    }
    return out;
  };
  return value.split('$$').map(expandPart).join('$');
}

function mapStrings(node: Json, fn: (s: string) => string): Json {
  if (typeof node === 'string') return fn(node);
  if (Array.isArray(node)) return node.map((n) => mapStrings(n, fn));
  if (node !== null && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, mapStrings(v, fn)]));
  }
  return node;
}

function strings(node: Json, path = ''): { path: string; value: string }[] {
  if (typeof node === 'string') return [{ path, value: node }];
  if (Array.isArray(node)) return node.flatMap((n, i) => strings(n, `${path}[${i}]`));
  if (node !== null && typeof node === 'object') {
    return Object.entries(node).flatMap(([k, v]) => strings(v, path ? `${path}.${k}` : k));
  }
  return [];
}

const grafanaEnv = {
  PROMETHEUS_URL: 'http://prometheus:9090',
  LOKI_URL: 'http://loki:3100',
  TEMPO_URL: 'http://tempo:3200',
};
// What Grafana actually provisions (compose's environment).
const expanded = mapStrings(raw as unknown as Json, (s) =>
  grafanaExpand(s, grafanaEnv),
) as unknown as {
  datasources: DataSource[];
};
const expandedByUid = new Map(expanded.datasources.map((ds) => [ds.uid, ds]));

function jsonDataOf(uid: string): Record<string, unknown> {
  const ds = expandedByUid.get(uid);
  assert.ok(ds?.jsonData, `data source ${uid} has jsonData`);
  return ds.jsonData;
}

describe('grafana data sources (grafana/provisioning/datasources/datasources.yaml)', () => {
  test('exactly prometheus, loki and tempo with fixed uids, proxied, one default', () => {
    assert.equal(raw.apiVersion, 1);
    assert.deepEqual(raw.datasources.map((ds) => [ds.uid, ds.type]).sort(), [
      ['loki', 'loki'],
      ['prometheus', 'prometheus'],
      ['tempo', 'tempo'],
    ]);
    assert.equal(new Set(raw.datasources.map((ds) => ds.name)).size, 3, 'names are unique');
    for (const ds of raw.datasources) assert.equal(ds.access, 'proxy', `${ds.uid}: access proxy`);
    assert.deepEqual(
      raw.datasources.filter((ds) => ds.isDefault).map((ds) => ds.uid),
      ['prometheus'],
    );
  });

  test('URLs come from ${PROMETHEUS_URL}, ${LOKI_URL}, ${TEMPO_URL} (same file for compose and kind)', () => {
    for (const [uid, variable] of Object.entries(envUrls)) {
      assert.equal(byUid.get(uid)?.url, `\${${variable}}`);
      assert.equal(expandedByUid.get(uid)?.url, grafanaEnv[variable as keyof typeof grafanaEnv]);
    }
  });

  test('every literal $ that Grafana must see is escaped as $$ (only the three URL variables expand)', () => {
    const allowed = new Set(Object.values(envUrls).map((v) => `\${${v}}`));
    for (const { path, value } of strings(raw as unknown as Json)) {
      const unescaped = value
        .split('$$')
        .flatMap((part) => part.match(/\$(\{[^}]*\}|[A-Za-z0-9_]*)/g) ?? []);
      for (const ref of unescaped) {
        assert.ok(
          allowed.has(ref),
          `${path}: "${ref}" would be expanded by Grafana (write $$ for a literal $)`,
        );
      }
    }
  });

  test('the file contains no "{{" (the kind stack renders it through Helm tpl)', () => {
    assert.ok(!readFileSync(datasourcesPath, 'utf8').includes('{{'));
  });

  test('every correlation points at a provisioned uid', () => {
    const refs: { where: string; uid: unknown }[] = [];
    const prom = jsonDataOf('prometheus');
    for (const dest of prom.exemplarTraceIdDestinations as { datasourceUid: string }[]) {
      refs.push({ where: 'prometheus exemplarTraceIdDestinations', uid: dest.datasourceUid });
    }
    const loki = jsonDataOf('loki');
    for (const field of loki.derivedFields as { datasourceUid: string }[]) {
      refs.push({ where: 'loki derivedFields', uid: field.datasourceUid });
    }
    const tempo = jsonDataOf('tempo') as Record<string, { datasourceUid?: string }>;
    for (const key of ['tracesToLogsV2', 'tracesToMetrics', 'serviceMap']) {
      refs.push({ where: `tempo ${key}`, uid: tempo[key]?.datasourceUid });
    }
    for (const { where, uid } of refs) {
      assert.ok(
        provisionedUids.has(uid as string),
        `${where}: datasourceUid ${String(uid)} is provisioned`,
      );
    }
    assert.deepEqual(
      refs.map((r) => `${r.where} -> ${String(r.uid)}`),
      [
        'prometheus exemplarTraceIdDestinations -> tempo',
        'loki derivedFields -> tempo',
        'tempo tracesToLogsV2 -> loki',
        'tempo tracesToMetrics -> prometheus',
        'tempo serviceMap -> prometheus',
      ],
    );
  });

  test('exemplars link their trace_id label to Tempo (the label Prometheus OTLP gives exemplars)', () => {
    const prom = jsonDataOf('prometheus');
    assert.deepEqual(
      (prom.exemplarTraceIdDestinations as { name: string; datasourceUid: string }[]).map((d) => [
        d.name,
        d.datasourceUid,
      ]),
      [['trace_id', 'tempo']],
    );
  });

  test('log line -> trace: derived field on the trace_id structured-metadata label', () => {
    const [field, ...others] = jsonDataOf('loki').derivedFields as Record<string, string>[];
    assert.equal(others.length, 0);
    assert.equal(
      field?.matcherType,
      'label',
      'OTLP logs carry trace_id as structured metadata, not in the line',
    );
    assert.equal(field?.matcherRegex, 'trace_id');
    assert.equal(field?.datasourceUid, 'tempo');
    assert.equal(
      field?.url,
      '${__value.raw}',
      'after provisioning expansion, the link query is the value',
    );
  });

  test('span -> logs: custom LogQL on the span service and the trace_id structured metadata', () => {
    const t2l = jsonDataOf('tempo').tracesToLogsV2 as Record<string, unknown>;
    assert.equal(t2l.customQuery, true);
    assert.equal(
      t2l.query,
      '{service_name="${__span.tags["service.name"]}"} | trace_id="${__span.traceId}"',
    );
  });

  test('span -> metrics: span-metrics queries filtered by the span service', () => {
    const t2m = jsonDataOf('tempo').tracesToMetrics as {
      tags: { key: string; value?: string }[];
      queries: { name: string; query: string }[];
    };
    assert.deepEqual(t2m.tags, [{ key: 'service.name', value: 'service_name' }]);
    assert.ok(t2m.queries.length > 0);
    for (const q of t2m.queries) {
      assert.match(q.query, /\{\$__tags[,}]/, `${q.name} interpolates $__tags`);
      assert.match(q.query, /traces_span_metrics_/, `${q.name} queries the span metrics`);
    }
  });

  test('service graph and node graph are on', () => {
    const tempo = jsonDataOf('tempo') as Record<string, Record<string, unknown>>;
    assert.equal(tempo.serviceMap?.datasourceUid, 'prometheus');
    assert.equal(tempo.nodeGraph?.enabled, true);
  });
});

describe('grafana dashboard provider (grafana/provisioning/dashboards/dashboards.yaml)', () => {
  test('one file provider for the node-observability-stack folder', () => {
    const provider = parse(readFileSync(providerPath, 'utf8')) as {
      apiVersion: number;
      providers: { type: string; folder: string; options: { path: string } }[];
    };
    assert.equal(provider.apiVersion, 1);
    assert.equal(provider.providers.length, 1);
    assert.equal(provider.providers[0]?.type, 'file');
    assert.equal(provider.providers[0]?.folder, 'node-observability-stack');
    assert.match(provider.providers[0]?.options.path ?? '', /^\/.+/);
  });
});

describe('grafana dashboards (grafana/dashboards/*.json)', () => {
  const dashboards = loadDashboards();

  test('there are dashboards, each valid JSON with a uid and a title, uids and titles unique', () => {
    assert.ok(dashboards.length >= 4, 'RED overview, service graph, Node.js runtime, collector');
    const uids = dashboards.map((d) => d.dashboard.uid);
    const titles = dashboards.map((d) => d.dashboard.title);
    for (const { file, dashboard } of dashboards) {
      assert.match(dashboard.uid ?? '', /^[a-zA-Z0-9_-]{1,40}$/, `${file}: uid`);
      assert.ok(dashboard.title, `${file}: title`);
      assert.equal(
        (dashboard as { id?: unknown }).id ?? null,
        null,
        `${file}: no instance-specific id`,
      );
    }
    assert.equal(new Set(uids).size, uids.length, `unique uids: ${uids.join(', ')}`);
    assert.equal(new Set(titles).size, titles.length, `unique titles: ${titles.join(', ')}`);
  });

  test('panel ids are unique within each dashboard and panels do not overlap', () => {
    for (const { file, dashboard } of dashboards) {
      const panels = allPanels(dashboard);
      const ids = panels.map((p) => p.id);
      assert.equal(new Set(ids).size, ids.length, `${file}: unique panel ids`);
      const cells = new Set<string>();
      for (const panel of panels) {
        const pos = panel.gridPos as { x: number; y: number; w: number; h: number };
        assert.ok(pos.x + pos.w <= 24, `${file}: "${panel.title}" fits the 24-column grid`);
        for (let x = pos.x; x < pos.x + pos.w; x++) {
          for (let y = pos.y; y < pos.y + pos.h; y++) {
            const cell = `${x},${y}`;
            assert.ok(
              !cells.has(cell),
              `${file}: "${panel.title}" overlaps another panel at ${cell}`,
            );
            cells.add(cell);
          }
        }
      }
    }
  });

  test('every data source reference (panels, targets, variables) is a provisioned uid', () => {
    for (const { file, dashboard } of dashboards) {
      const refs: { where: string; ref: { uid?: string; type?: string } }[] = [];
      for (const panel of allPanels(dashboard)) {
        if (panel.type === 'row') continue;
        assert.ok(panel.datasource, `${file}: "${panel.title}" names its data source`);
        refs.push({ where: `"${panel.title}"`, ref: panel.datasource });
        for (const target of panel.targets ?? []) {
          assert.ok(
            target.datasource,
            `${file}: "${panel.title}" ${target.refId} names its data source`,
          );
          refs.push({ where: `"${panel.title}" ${target.refId}`, ref: target.datasource });
        }
      }
      for (const variable of variables(dashboard)) {
        if (variable.datasource)
          refs.push({ where: `$${variable.name}`, ref: variable.datasource });
      }
      for (const { where, ref } of refs) {
        const ds = byUid.get(ref.uid ?? '');
        assert.ok(
          ds,
          `${file}: ${where} uses data source uid ${String(ref.uid)}, which is not provisioned`,
        );
        assert.equal(ref.type, ds.type, `${file}: ${where} data source type`);
      }
    }
  });

  test('every panel has at least one query, and every query is non-empty', () => {
    for (const { file, dashboard } of dashboards) {
      for (const panel of allPanels(dashboard)) {
        if (panel.type === 'row') continue;
        assert.ok((panel.targets ?? []).length > 0, `${file}: "${panel.title}" has targets`);
      }
    }
    for (const q of allDashboardQueries()) {
      if (q.language === 'tempo-service-map') continue;
      assert.ok(q.query.trim(), `${q.file}: "${q.panel}" ${q.refId} has a query`);
    }
  });

  test('variable queries are label_values(<selector>, <label>) over Prometheus', () => {
    for (const q of allDashboardQueries().filter((q) => q.panelType === 'variable')) {
      assert.equal(q.language, 'promql', `${q.file}: ${q.panel}`);
      assert.ok(
        parseLabelValues(q.query),
        `${q.file}: ${q.panel} is label_values(...): ${q.query}`,
      );
    }
  });

  test('queries only use variables the dashboard defines (or Grafana built-ins)', () => {
    for (const { file, dashboard } of dashboards) {
      const defined = new Set([
        ...variables(dashboard).map((v) => v.name),
        ...Object.keys(builtinVariables),
      ]);
      for (const q of allDashboardQueries().filter((q) => q.file === file)) {
        for (const name of variablesUsed(q.query)) {
          assert.ok(defined.has(name), `${file}: "${q.panel}" uses undefined variable $${name}`);
        }
      }
    }
  });

  test('RED overview: request rate, errors, duration quantiles with exemplars, error logs', () => {
    const red = dashboards.find((d) => d.dashboard.uid === 'nos-red-overview');
    assert.ok(red);
    const queries = allDashboardQueries().filter((q) => q.dashboardUid === 'nos-red-overview');
    assert.deepEqual(
      variables(red.dashboard).map((v) => v.name),
      ['environment', 'service'],
    );
    const exemplarQueries = queries.filter((q) => q.exemplar);
    assert.ok(
      exemplarQueries.some((q) =>
        /histogram_quantile\(0\.99,.*traces_span_metrics_duration_seconds_bucket/.test(q.query),
      ),
      'a p99 duration query over the span metrics histogram (the one carrying exemplars) has exemplars on',
    );
    assert.ok(
      queries.some((q) => q.language === 'logql' && q.panelType === 'logs'),
      'a Loki logs panel',
    );
    assert.ok(
      queries.some((q) => q.language === 'traceql'),
      'a TraceQL panel',
    );
  });

  test('the other dashboards: service graph, Node.js runtime, collector health per signal', () => {
    const queries = allDashboardQueries();
    const of = (uid: string) => queries.filter((q) => q.dashboardUid === uid);
    assert.ok(of('nos-service-graph').some((q) => q.language === 'tempo-service-map'));
    assert.ok(
      of('nos-service-graph').some((q) => q.query.includes('traces_service_graph_request_total')),
    );
    const runtime = of('nos-node-runtime')
      .map((q) => q.query)
      .join('\n');
    for (const metric of [
      'nodejs_eventloop_delay_p99_seconds',
      'v8js_memory_heap_used_bytes',
      'v8js_gc_duration_seconds',
    ]) {
      assert.ok(runtime.includes(metric), `runtime dashboard uses ${metric}`);
    }
    const collector = of('nos-collector')
      .map((q) => q.query)
      .join('\n');
    for (const signal of ['spans', 'metric_points', 'log_records']) {
      for (const kind of [
        'receiver_accepted',
        'receiver_refused',
        'exporter_sent',
        'exporter_send_failed',
      ]) {
        assert.ok(
          collector.includes(`otelcol_${kind}_${signal}_total`),
          `collector dashboard: ${kind} ${signal}`,
        );
      }
    }
  });

  test('interpolated with sample values, every PromQL query parses (promtool check rules)', (t) => {
    const promtool = requireTool('promtool', t);
    if (!promtool) return;
    const values = { service: 'api-gateway', environment: '.*' };
    // Variable queries are label_values(<selector>, <label>): check the selector.
    const dashboardExprs = allDashboardQueries()
      .filter((q) => q.language === 'promql')
      .map((q) =>
        q.panelType === 'variable' ? (parseLabelValues(q.query)?.selector ?? q.query) : q.query,
      )
      .map((expr) => interpolate(expr, values));
    // The Tempo data source's "Metrics for this span" queries, with $__tags as Grafana fills it in.
    const spanMetricsExprs = (
      jsonDataOf('tempo').tracesToMetrics as { queries: { query: string }[] }
    ).queries.map((q) => q.query.replaceAll('$__tags', 'service_name="api-gateway"'));
    const rules = [...dashboardExprs, ...spanMetricsExprs].map((expr, i) => ({
      record: `dashboard_query_${i}`,
      expr,
    }));
    const dir = mkdtempSync(join(tmpdir(), 'nos-dashboard-promql-'));
    try {
      const file = join(dir, 'rules.yaml');
      writeFileSync(file, stringify({ groups: [{ name: 'dashboard-queries', rules }] }));
      execFileSync(promtool, ['check', 'rules', '--lint=none', file], { stdio: 'pipe' });
    } catch (error) {
      const e = error as { stdout?: Buffer; stderr?: Buffer };
      assert.fail(
        `promtool rejected a dashboard query:\n${String(e.stdout ?? '')}${String(e.stderr ?? '')}`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
