// After a staged 502 and the traffic generator's incident scenario (run as the compose service): every
// PromQL query of docs/walkthrough.md and of every dashboard returns data from Prometheus, the alert
// expressions evaluate, every LogQL and TraceQL query parses and selects what the stand-ins received,
// the rows of test/e2e/expectations.yaml for this phase hold, and the data source correlations lead
// where Grafana would go (correlations.ts).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { excerpt, finiteSamples } from '../../support/backend-api.ts';
import {
  allDashboardQueries,
  interpolate,
  parseLabelValues,
  variablesUsed,
} from '../../support/dashboard-queries.ts';
import { SpanKind, StatusCode } from '../../support/otlp-receiver.ts';
import { repoRoot } from '../../support/versions.ts';
import { TRACE_ID_PLACEHOLDER, walkthroughQueries } from '../../support/walkthrough-queries.ts';
import { checkLogql, checkTraceql } from './contract.ts';
import { correlationTests } from './correlations.ts';
import { checkExpectation, loadExpectations } from './expectations.ts';
import {
  ENVIRONMENT,
  eventually,
  INCIDENT_LATENCY_MS,
  INCIDENT_RATE,
  INCIDENT_SECONDS,
  prom,
  promData,
  queryTimeout,
  runIncident,
  serviceOf,
  serviceValues,
  settleDeadline,
  settleFromNow,
  skipReason,
  startedAt,
  traceWithServices,
  values,
} from './stack.ts';

export function incidentTests(): void {
  describe(
    'compose: after a staged 502 and the incident, every query has its data',
    { skip: skipReason },
    () => {
      before(
        async () => {
          const { output } = await runIncident();
          settleFromNow();
          const statuses = /statuses\s+(.*)/.exec(output)?.[1] ?? '';
          assert.match(statuses, /\b502:\d+/, `the incident produced 502s: ${output}`);
          console.log(
            `# incident scenario (${INCIDENT_SECONDS}s at ${INCIDENT_RATE}/s): ${statuses}`,
          );
        },
        { timeout: (INCIDENT_SECONDS + 180) * 1000 },
      );

      test('walkthrough §2: the staged 502 trace has error spans in user-service (Tempo stand-in)', async () => {
        const { stagedTraceId } = await runIncident();
        const spans = await traceWithServices(stagedTraceId);
        const server = spans.find(
          (s) => serviceOf(s) === 'user-service' && s.kind === SpanKind.SERVER,
        );
        assert.equal(server?.status.code, StatusCode.ERROR);
      });

      test('walkthrough §3: the highest exemplar of the p99 query opens a slow trace, its time in the database span', async (t) => {
        const p99 = walkthroughQueries().find((w) => w.query.startsWith('histogram_quantile(0.99'));
        assert.ok(p99, 'the walkthrough shows the p99 duration query');
        const exemplar = await eventually(
          `exemplar of at least ${INCIDENT_LATENCY_MS} ms for ${p99.query}`,
          async (note) => {
            const all = (await prom.exemplars(p99.query, startedAt / 1000, Date.now() / 1000))
              .flatMap((r) => r.exemplars)
              .sort((a, b) => Number(b.value) - Number(a.value));
            note(excerpt(all[0] ?? 'none'));
            return all[0] && Number(all[0].value) >= INCIDENT_LATENCY_MS / 1000
              ? all[0]
              : undefined;
          },
          queryTimeout(),
        );
        const spans = await traceWithServices(exemplar.labels.trace_id ?? '');
        const db = spans.find((s) => s.name === 'SELECT users');
        assert.ok(db, 'database span');
        const ms = Number(db.endTimeUnixNano - db.startTimeUnixNano) / 1e6;
        assert.ok(ms >= INCIDENT_LATENCY_MS, `database span ${ms} ms`);
        t.diagnostic(`exemplar ${exemplar.value}s -> database span ${ms} ms`);
      });

      for (const item of walkthroughQueries().filter((w) => w.language === 'promql')) {
        test(`walkthrough promql (line ${item.line}): ${item.query}`, async (t) => {
          t.diagnostic(await promData(item.query));
        });
      }

      const dashboards = allDashboardQueries();
      for (const q of dashboards.filter((d) => d.language === 'promql')) {
        test(`dashboard ${q.file} › ${q.panel} [${q.refId}] promql: ${q.query}`, async (t) => {
          if (q.panelType === 'variable') {
            const parsed = parseLabelValues(interpolate(q.query, values()));
            assert.ok(parsed, `$${q.refId}: label_values(<selector>, <label>)`);
            const expected = q.refId === 'environment' ? [ENVIRONMENT] : serviceValues;
            const got = await eventually(
              `label values ${parsed.label} of ${parsed.selector}`,
              async (note) => {
                const v = await prom.labelValues(
                  parsed.label,
                  parsed.selector,
                  startedAt / 1000,
                  Date.now() / 1000,
                );
                note(JSON.stringify(v));
                return expected.every((e) => v.includes(e)) ? v : undefined;
              },
              queryTimeout(),
            );
            t.diagnostic(JSON.stringify(got));
            return;
          }
          for (const service of variablesUsed(q.query).includes('service')
            ? serviceValues
            : [undefined]) {
            t.diagnostic(
              `${service ?? ''} ${await promData(interpolate(q.query, values(service)))}`,
            );
          }
        });
      }

      test('Grafana service map: a dashboard panel draws it from Tempo (serviceMap), which reads Prometheus', () => {
        assert.ok(
          dashboards.some((d) => d.language === 'tempo-service-map'),
          'a service map panel',
        );
      });

      for (const row of loadExpectations().after_incident) {
        test(`Prometheus after the incident: ${row.name}`, async (t) => {
          t.diagnostic(
            await checkExpectation(row, {
              prom,
              variables: () => ({
                __since_start: `${Math.ceil((Date.now() - startedAt) / 1000)}s`,
              }),
              startS: startedAt / 1000,
              traceWith: (traceId, services) => traceWithServices(traceId, undefined, services),
              timeoutMs: queryTimeout(),
            }),
          );
        });
      }

      test('the alert rules (values/prometheus-rules.yaml) evaluate, and the incident trips the error-rate alert', async (t) => {
        const rules = (
          parse(readFileSync(join(repoRoot, 'values', 'prometheus-rules.yaml'), 'utf8')) as {
            groups: { rules: { alert?: string; expr: string }[] }[];
          }
        ).groups.flatMap((g) => g.rules);
        assert.ok(rules.length > 0);
        const firing: string[] = [];
        for (const rule of rules) {
          const series = await prom.queryRange(rule.expr, startedAt / 1000, Date.now() / 1000, 5);
          if (finiteSamples(series).length > 0) firing.push(rule.alert ?? rule.expr);
        }
        assert.ok(
          firing.includes('ApiGatewayHighErrorRate'),
          `conditions met during the test: ${firing.join(', ')}`,
        );
        t.diagnostic(`${rules.length} rules evaluated; conditions met: ${firing.join(', ')}`);
      });

      for (const item of walkthroughQueries().filter((w) => w.language !== 'promql')) {
        test(`walkthrough ${item.language} (line ${item.line}), by parser and contract: ${item.query}`, async (t) => {
          const query = item.query.replaceAll(
            TRACE_ID_PLACEHOLDER,
            (await runIncident()).stagedTraceId,
          );
          await eventually(
            `${query} has data`,
            async () => {
              try {
                if (item.language === 'logql') checkLogql(t, query);
                else checkTraceql(t, query);
                return true;
              } catch (error) {
                if (Date.now() > settleDeadline()) throw error;
                return undefined;
              }
            },
            queryTimeout() + 5_000,
          );
        });
      }

      for (const q of dashboards.filter(
        (d) => d.language === 'logql' || d.language === 'traceql',
      )) {
        test(`dashboard ${q.file} › ${q.panel} [${q.refId}] ${q.language}, by parser and contract: ${q.query}`, (t) => {
          for (const service of variablesUsed(q.query).includes('service')
            ? serviceValues
            : [undefined]) {
            const query = interpolate(q.query, values(service));
            if (q.language === 'logql') checkLogql(t, query);
            else checkTraceql(t, query);
          }
        });
      }
      correlationTests(dashboards);
    },
  );
}
