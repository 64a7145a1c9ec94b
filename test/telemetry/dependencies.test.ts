// What the lockfile installs of OpenTelemetry JS, as the README states it: the services' SDK is one
// copy (every @opentelemetry package once, at the top of node_modules), and the only other copies are
// the older OpenTelemetry JS 2.x packages that pino-opentelemetry-transport depends on, under its own
// node_modules. Only the transport's worker thread loads those.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../support/versions.ts';

const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string }>;
};

const TRANSPORT = 'node_modules/pino-opentelemetry-transport/';

/** Every installed copy of an @opentelemetry package: [lockfile path, package name]. */
const copies = Object.keys(lock.packages).flatMap((path) => {
  const match = /(?:^|\/)node_modules\/(@opentelemetry\/[^/]+)$/.exec(path);
  return match?.[1] ? [[path, match[1]] as const] : [];
});

test("the services' OpenTelemetry SDK is one copy", () => {
  const outside = copies.filter(([path]) => !path.startsWith(TRANSPORT));
  assert.ok(outside.length > 40, `found ${outside.length} packages`);
  const nested = outside.filter(([path, name]) => path !== `node_modules/${name}`);
  assert.deepEqual(
    nested,
    [],
    'no second copy of any @opentelemetry package outside the transport',
  );
});

test('the second copies are the log transport’s own OpenTelemetry JS 2.x packages', () => {
  const transport = copies.filter(([path]) => path.startsWith(TRANSPORT));
  // The README states these numbers: update it with them.
  assert.deepEqual([...new Set(transport.map(([, name]) => name))].sort(), [
    '@opentelemetry/api',
    '@opentelemetry/core',
    '@opentelemetry/exporter-logs-otlp-grpc',
    '@opentelemetry/exporter-logs-otlp-http',
    '@opentelemetry/exporter-logs-otlp-proto',
    '@opentelemetry/otlp-exporter-base',
    '@opentelemetry/otlp-grpc-exporter-base',
    '@opentelemetry/otlp-transformer',
    '@opentelemetry/resources',
    '@opentelemetry/sdk-logs',
    '@opentelemetry/sdk-metrics',
    '@opentelemetry/sdk-trace',
  ]);
  assert.equal(transport.length, 17, 'installed copies (resources and core more than once)');
  for (const [path] of transport) {
    const version = lock.packages[path]?.version ?? '';
    assert.match(
      version,
      /^(1\.9\.|2\.|0\.2\d\d\.)/,
      `${path} is OpenTelemetry JS 2.x (${version})`,
    );
  }
  assert.match(
    lock.packages['node_modules/@opentelemetry/core']?.version ?? '',
    /^3\./,
    'the services run OpenTelemetry JS 3.x',
  );
});
