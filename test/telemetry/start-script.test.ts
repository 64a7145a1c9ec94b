// The start command (services/telemetry/bin/start.sh): what each TELEMETRY_MODE runs, run with a
// stand-in `node` first on PATH that prints its arguments and environment instead of starting.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { withoutPreloads, workerEnv } from '@nos/telemetry/logger';
import { missingOtelDefaults } from '@nos/telemetry/otel-env';
import { serviceNameFromPackageName } from '@nos/telemetry/service-info';
import { repoRoot } from '../support/service-process.ts';

const script = join(repoRoot, 'services', 'telemetry', 'bin', 'start.sh');
const stubDir = mkdtempSync(join(tmpdir(), 'nos-start-'));
// The stand-in hides NODE_OPTIONS from the real node it runs (it would load the stock SDK) and
// reports it as it was.
writeFileSync(
  join(stubDir, 'node'),
  [
    '#!/bin/sh',
    'if [ -n "${NODE_OPTIONS+set}" ]; then export SEEN_NODE_OPTIONS="$NODE_OPTIONS"; unset NODE_OPTIONS; fi',
    `exec "${process.execPath}" -e 'console.log(JSON.stringify({ argv: process.argv.slice(1), env: process.env }))' -- "$@"`,
    '',
  ].join('\n'),
);
chmodSync(join(stubDir, 'node'), 0o755);

interface Started {
  status: number | null;
  stderr: string;
  argv: string[];
  env: Record<string, string>;
}

function start(env: Record<string, string>, service = 'api-gateway'): Started {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_') && k !== 'NODE_OPTIONS'),
  );
  const result = spawnSync(script, ['dist/server.js'], {
    cwd: join(repoRoot, 'services', service),
    env: { ...base, PATH: `${stubDir}:${process.env.PATH ?? ''}`, ...env },
    encoding: 'utf8',
  });
  const printed = result.status === 0 ? (JSON.parse(result.stdout) as Partial<Started>) : {};
  const { SEEN_NODE_OPTIONS, ...seen } = printed.env ?? {};
  return {
    status: result.status,
    stderr: result.stderr,
    argv: printed.argv ?? [],
    env: SEEN_NODE_OPTIONS === undefined ? seen : { ...seen, NODE_OPTIONS: SEEN_NODE_OPTIONS },
  };
}

/** The OTEL_* part of an environment. */
const otel = (env: Record<string, string>) =>
  Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('OTEL_')));

describe('start command', () => {
  test('tuned (the default): the project preload, nothing else', () => {
    for (const mode of [undefined, 'tuned', 'TUNED']) {
      const started = start(mode ? { TELEMETRY_MODE: mode } : {});
      assert.equal(started.status, 0, started.stderr);
      assert.deepEqual(started.argv, ['--import', '@nos/telemetry/register', 'dist/server.js']);
      assert.equal(started.env.NODE_OPTIONS, undefined);
      assert.deepEqual(otel(started.env), {}, 'the defaults are applied in-process');
    }
  });

  test('stock: the stock register through NODE_OPTIONS, as the Operator injects it', () => {
    const started = start({ TELEMETRY_MODE: 'stock', NODE_OPTIONS: '--max-old-space-size=256' });
    assert.equal(started.status, 0, started.stderr);
    assert.deepEqual(started.argv, ['dist/server.js'], 'no project preload');
    assert.equal(
      started.env.NODE_OPTIONS,
      '--max-old-space-size=256 --require @opentelemetry/auto-instrumentations-node/register',
    );
  });

  test('stock-esm: the stock register and the ESM loader hook', () => {
    const started = start({ TELEMETRY_MODE: 'stock-esm' });
    assert.equal(started.status, 0, started.stderr);
    assert.deepEqual(started.argv, ['dist/server.js']);
    assert.equal(
      started.env.NODE_OPTIONS,
      '--experimental-loader=@opentelemetry/instrumentation/hook.mjs --require @opentelemetry/auto-instrumentations-node/register',
    );
  });

  test('stock modes get the same OTEL_* defaults the tuned package applies, and the service name', () => {
    const users: Record<string, string>[] = [
      {},
      { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' },
      { OTEL_METRIC_EXPORT_INTERVAL: '60000' },
      { OTEL_METRIC_EXPORT_TIMEOUT: '1000' },
    ];
    for (const user of users) {
      const started = start({ TELEMETRY_MODE: 'stock', ...user });
      const { OTEL_SERVICE_NAME, ...rest } = otel(started.env);
      assert.deepEqual(rest, { ...user, ...missingOtelDefaults(user) }, JSON.stringify(user));
      assert.equal(OTEL_SERVICE_NAME, serviceNameFromPackageName('@nos/api-gateway'));
    }
    assert.equal(
      start({ TELEMETRY_MODE: 'stock' }, 'user-service').env.OTEL_SERVICE_NAME,
      'user-service',
    );
    assert.equal(
      start({ TELEMETRY_MODE: 'stock', OTEL_SERVICE_NAME: 'mine' }).env.OTEL_SERVICE_NAME,
      'mine',
    );
  });

  test('an unknown mode stops the start with a message naming the variable', () => {
    const started = start({ TELEMETRY_MODE: 'fast' });
    assert.equal(started.status, 1);
    assert.match(
      started.stderr,
      /TELEMETRY_MODE must be one of tuned, stock, stock-esm \(got "fast"\)/,
    );
  });
});

describe('the log worker starts without preloads', () => {
  test('flags with their values and --flag=value forms are dropped, the rest kept', () => {
    assert.deepEqual(
      withoutPreloads([
        '--require',
        'a',
        '-r',
        'b',
        '--import=c',
        '--experimental-loader=d',
        '--loader',
        'e',
        '--max-old-space-size=256',
        '--enable-source-maps',
      ]),
      ['--max-old-space-size=256', '--enable-source-maps'],
    );
    assert.deepEqual(
      workerEnv({
        NODE_OPTIONS:
          '--require @opentelemetry/auto-instrumentations-node/register --title "a b" --import=x',
        OTHER: '1',
      }),
      { NODE_OPTIONS: '--title "a b"', OTHER: '1' },
    );
    assert.deepEqual(workerEnv({ OTHER: '1' }), { OTHER: '1' });
  });
});
