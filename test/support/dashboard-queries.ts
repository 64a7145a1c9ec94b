// Reads the Grafana dashboards of grafana/dashboards/ and lists every query their panels and template
// variables run, with the data source each one goes to, so that tests can check them statically
// (test/config/grafana.test.ts) and run them against real Prometheus, Loki and Tempo (e2e).
//
// Dashboard variables ($service, $environment) and Grafana's built-in interval variables
// ($__rate_interval, $__auto, ...) are substituted by `interpolate`, the way Grafana would before
// sending the query, so the result is a plain PromQL / LogQL / TraceQL string.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export const dashboardsDir = join(import.meta.dirname, '..', '..', 'grafana', 'dashboards');

export type QueryLanguage = 'promql' | 'logql' | 'traceql' | 'tempo-service-map';

export interface DataSourceRef {
  type?: string;
  uid?: string;
}

export interface Target {
  refId?: string;
  datasource?: DataSourceRef;
  expr?: string;
  query?: string;
  queryType?: string;
  exemplar?: boolean;
  [key: string]: unknown;
}

export interface Panel {
  id?: number;
  type: string;
  title?: string;
  datasource?: DataSourceRef | null;
  targets?: Target[];
  panels?: Panel[];
  [key: string]: unknown;
}

export interface Variable {
  name: string;
  type: string;
  datasource?: DataSourceRef;
  query?: string | { query?: string; [key: string]: unknown };
  definition?: string;
  current?: { text?: unknown; value?: unknown };
  includeAll?: boolean;
  allValue?: string;
  [key: string]: unknown;
}

export interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating?: { list?: Variable[] };
  [key: string]: unknown;
}

export interface DashboardFile {
  file: string;
  dashboard: Dashboard;
}

/** One query of one panel target (or of a template variable: `panel` is then `$<name>`). */
export interface DashboardQuery {
  file: string;
  dashboardUid: string;
  panel: string;
  panelType: string;
  refId: string;
  datasourceUid: string;
  language: QueryLanguage;
  /** The query as written in the dashboard (with $variables). Empty for the Tempo service map. */
  query: string;
  /** Prometheus targets: Grafana also asks Prometheus for the exemplars of this query. */
  exemplar: boolean;
}

/** Every *.json file of grafana/dashboards (sorted by name), parsed. */
export function loadDashboards(dir: string = dashboardsDir): DashboardFile[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((file) => ({
      file,
      dashboard: JSON.parse(readFileSync(join(dir, file), 'utf8')) as Dashboard,
    }));
}

/** All panels, including those nested in (collapsed) rows. */
export function allPanels(dashboard: Dashboard): Panel[] {
  const out: Panel[] = [];
  const walk = (panels: Panel[] | undefined) => {
    for (const panel of panels ?? []) {
      out.push(panel);
      walk(panel.panels);
    }
  };
  walk(dashboard.panels);
  return out;
}

export function variables(dashboard: Dashboard): Variable[] {
  return dashboard.templating?.list ?? [];
}

function languageOf(datasourceType: string | undefined, target: Target): QueryLanguage {
  switch (datasourceType) {
    case 'prometheus':
      return 'promql';
    case 'loki':
      return 'logql';
    case 'tempo':
      return target.queryType === 'serviceMap' ? 'tempo-service-map' : 'traceql';
    default:
      throw new Error(`unsupported data source type ${String(datasourceType)}`);
  }
}

/** Every panel target and query variable of the dashboard, in panel order. */
export function dashboardQueries(entry: DashboardFile): DashboardQuery[] {
  const { file, dashboard } = entry;
  const out: DashboardQuery[] = [];
  for (const variable of variables(dashboard)) {
    if (variable.type !== 'query') continue;
    const query = typeof variable.query === 'string' ? variable.query : variable.query?.query;
    out.push({
      file,
      dashboardUid: dashboard.uid,
      panel: `$${variable.name}`,
      panelType: 'variable',
      refId: variable.name,
      datasourceUid: variable.datasource?.uid ?? '',
      language: languageOf(variable.datasource?.type, {}),
      query: query ?? '',
      exemplar: false,
    });
  }
  for (const panel of allPanels(dashboard)) {
    for (const target of panel.targets ?? []) {
      const ds = target.datasource ?? panel.datasource ?? undefined;
      const language = languageOf(ds?.type, target);
      out.push({
        file,
        dashboardUid: dashboard.uid,
        panel: panel.title ?? `panel ${String(panel.id)}`,
        panelType: panel.type,
        refId: target.refId ?? '',
        datasourceUid: ds?.uid ?? '',
        language,
        query: (language === 'traceql' ? target.query : target.expr) ?? '',
        exemplar: target.exemplar === true,
      });
    }
  }
  return out;
}

/** Every query of every dashboard in grafana/dashboards. */
export function allDashboardQueries(dir: string = dashboardsDir): DashboardQuery[] {
  return loadDashboards(dir).flatMap(dashboardQueries);
}

/**
 * A Prometheus variable query `label_values(<series selector>, <label>)` as the selector and the label
 * (what Grafana asks Prometheus: /api/v1/label/<label>/values?match[]=<selector>). Undefined for other
 * query forms.
 */
export function parseLabelValues(query: string): { selector: string; label: string } | undefined {
  const match = /^\s*label_values\(\s*(.+?)\s*,\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$/s.exec(query);
  return match ? { selector: match[1] as string, label: match[2] as string } : undefined;
}

/**
 * What Grafana substitutes for its built-in variables when it sends a query. The intervals depend on
 * the time range and panel width in Grafana; these values suit a 30 minute range and data every 10 to
 * 15 s (the services push metrics every 10 s, the connectors flush every 15 s).
 */
export const builtinVariables: Readonly<Record<string, string>> = {
  __rate_interval: '1m',
  __interval: '15s',
  __auto: '1m',
  __range: '30m',
};

const variablePattern = /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::[a-z]+)?\}|([A-Za-z_][A-Za-z0-9_]*))/g;

/** Names of the $variables a query uses (built-ins included). */
export function variablesUsed(query: string): string[] {
  return [...query.matchAll(variablePattern)].map((m) => (m[1] ?? m[2]) as string);
}

/**
 * Replaces $name and ${name} by `values[name]`, then by the built-in interval values. Throws on a
 * variable that has no value, so a renamed variable cannot slip through.
 */
export function interpolate(query: string, values: Readonly<Record<string, string>>): string {
  return query.replace(
    variablePattern,
    (whole, braced: string | undefined, bare: string | undefined) => {
      const name = (braced ?? bare) as string;
      const value = values[name] ?? builtinVariables[name];
      if (value === undefined) throw new Error(`no value for ${whole} in: ${query}`);
      return value;
    },
  );
}
