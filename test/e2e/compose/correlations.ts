// The data source correlations Grafana provisions, followed with real data after the incident: Loki's
// derived field to Tempo, Tempo's tracesToLogsV2 and tracesToMetrics, and Prometheus exemplars to
// Tempo. Registered inside the incident's describe block (queries.ts), whose before hook ran it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { interpolate, type DashboardQuery } from '../../support/dashboard-queries.ts';
import { SpanKind, type ReceivedSpan } from '../../support/otlp-receiver.ts';
import { checkLogql, jsonData, unescape } from './contract.ts';
import {
  eventually,
  lokiEntries,
  prom,
  promData,
  queryTimeout,
  runIncident,
  serviceOf,
  serviceValues,
  startedAt,
  traceLanded,
  traceWithServices,
  values,
} from './stack.ts';

export function correlationTests(dashboards: DashboardQuery[]): void {
  test('correlation Loki -> Tempo: the derived field reads structured metadata trace_id, a trace the Tempo stand-in has', async () => {
    const field = (jsonData('loki').derivedFields as Record<string, string>[])[0];
    assert.equal(field?.matcherType, 'label');
    assert.equal(field?.datasourceUid, 'tempo');
    const errorLogs = lokiEntries().filter((e) => Number(e.metadata.severity_number) >= 17);
    assert.ok(errorLogs.length > 0, 'error records after the incident');
    const traceId = errorLogs.at(-1)?.metadata[field.matcherRegex ?? ''] ?? '';
    assert.match(traceId, /^[0-9a-f]{32}$/);
    assert.equal(unescape(field.url ?? '').replace('${__value.raw}', traceId), traceId);
    await traceLanded(traceId);
  });

  test('correlation Tempo -> Loki: tracesToLogsV2 of a real span parses and selects its logs', async (t) => {
    const config = jsonData('tempo').tracesToLogsV2 as Record<string, string>;
    assert.equal(config.datasourceUid, 'loki');
    const spans = await traceWithServices((await runIncident()).stagedTraceId);
    for (const service of serviceValues) {
      const span = spans.find(
        (s) => serviceOf(s) === service && s.kind === SpanKind.SERVER,
      ) as ReceivedSpan;
      const query = unescape(config.query ?? '')
        .replaceAll('${__span.traceId}', span.traceId)
        .replace(/\$\{__span\.tags\["([^"]+)"\]\}/g, (_m, key: string) =>
          String(span.resource[key] ?? span.attributes[key]),
        );
      checkLogql(t, query);
    }
  });

  test('correlation Tempo -> Prometheus: tracesToMetrics queries with a real span return data', async (t) => {
    const config = jsonData('tempo').tracesToMetrics as {
      datasourceUid: string;
      tags: { key: string; value: string }[];
      queries: { name: string; query: string }[];
    };
    assert.equal(config.datasourceUid, 'prometheus');
    const spans = await traceWithServices((await runIncident()).stagedTraceId);
    for (const service of serviceValues) {
      const span = spans.find(
        (s) => serviceOf(s) === service && s.kind === SpanKind.SERVER,
      ) as ReceivedSpan;
      const tags = config.tags
        .map(
          (tag) => `${tag.value}="${String(span.resource[tag.key] ?? span.attributes[tag.key])}"`,
        )
        .join(', ');
      for (const q of config.queries) {
        const query = unescape(q.query).replaceAll('$__tags', tags);
        t.diagnostic(`${service} ${q.name}: ${await promData(query)}`);
      }
    }
  });

  for (const q of dashboards.filter((d) => d.exemplar)) {
    test(`correlation Prometheus -> Tempo: exemplars of ${q.file} › ${q.panel} [${q.refId}] name traces the Tempo stand-in has`, async (t) => {
      const destination = (
        jsonData('prometheus').exemplarTraceIdDestinations as Record<string, string>[]
      )[0];
      assert.equal(destination?.datasourceUid, 'tempo');
      for (const service of serviceValues) {
        const query = interpolate(q.query, values(service));
        const exemplar = await eventually(
          `exemplars of ${query}`,
          async () =>
            (await prom.exemplars(query, startedAt / 1000, Date.now() / 1000))
              .flatMap((r) => r.exemplars)
              .sort((a, b) => b.timestamp - a.timestamp)[0],
          queryTimeout(),
        );
        const traceId = exemplar.labels[destination?.name ?? ''] ?? '';
        await traceLanded(traceId);
        t.diagnostic(`${service}: ${traceId}`);
      }
    });
  }
}
