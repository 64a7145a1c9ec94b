// The walkthrough's statements about what Grafana shows and what the services write, checked against
// the files that decide them: the provisioned data sources and the shared telemetry package. (The
// e2e test runs its queries; the span statuses it describes are asserted in
// test/telemetry/service-telemetry.test.ts.)
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { repoRoot } from '../support/versions.ts';
import { walkthroughPath, walkthroughQueries } from '../support/walkthrough-queries.ts';

const walkthrough = readFileSync(walkthroughPath, 'utf8');

interface DataSource {
  uid: string;
  jsonData?: Record<string, unknown>;
}
// Grafana expands environment variables in provisioning files: `$$` stands for a literal `$`.
const datasources = (
  parse(
    readFileSync(join(repoRoot, 'grafana/provisioning/datasources/datasources.yaml'), 'utf8'),
  ) as { datasources: DataSource[] }
).datasources;
const jsonDataOf = (uid: string) =>
  JSON.parse(
    JSON.stringify(datasources.find((d) => d.uid === uid)?.jsonData ?? {}).replaceAll('$$', '$'),
  ) as Record<string, unknown>;

/** The paragraph of the walkthrough that contains `marker`. */
function paragraph(marker: string): string {
  const found = walkthrough.split(/\n\s*\n/).find((p) => p.includes(marker));
  assert.ok(found, `the walkthrough has a paragraph with "${marker}"`);
  return found.replaceAll('\n', ' ');
}

test('log line -> trace: the walkthrough names the derived field and its link as provisioned', () => {
  const [field] = jsonDataOf('loki').derivedFields as Record<string, string>[];
  assert.ok(field?.name && field.urlDisplayLabel);
  const text = paragraph('Back from a log line to its trace');
  assert.ok(text.includes(`**${field.name}**`), `names the field "${field.name}"`);
  assert.ok(
    text.includes(`**${field.urlDisplayLabel}**`),
    `names the link "${field.urlDisplayLabel}"`,
  );
  assert.ok(text.includes(`\`${field.matcherRegex}\``), 'names the structured metadata it reads');
});

test("span -> logs: the walkthrough's queries are the data source's, filled in", () => {
  const t2l = jsonDataOf('tempo').tracesToLogsV2 as { query: string };
  const logql = walkthroughQueries()
    .filter((q) => q.language === 'logql')
    .map((q) => q.query);
  for (const service of ['user-service', 'api-gateway']) {
    const filled = t2l.query
      .replace('${__span.tags["service.name"]}', service)
      .replace('${__span.traceId}', '<trace-id>');
    assert.ok(logql.includes(filled), `the walkthrough shows ${filled}`);
  }
});

test('every request writes the access log line the walkthrough names', () => {
  const http = readFileSync(join(repoRoot, 'services/service-kit/src/access-log.ts'), 'utf8');
  const message = /aborted \? 'request aborted by client' : '([^']+)'/.exec(http)?.[1];
  assert.equal(message, 'request completed', 'the access log message in access-log.ts');
  assert.ok(paragraph('Every request writes one log line').includes(`\`${message}\``));
  assert.doesNotMatch(walkthrough, /writes no log line/);
});

test('a 404: the walkthrough says which span is an error', () => {
  const text = paragraph('/user/999');
  assert.match(text, /CLIENT span `GET` has status error/);
  assert.doesNotMatch(text, /spans are not red/);
});
