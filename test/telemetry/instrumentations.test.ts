// The five instrumentations, their configuration, their narrowing by the standard variables, and the
// loader hook for the modules they patch.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  createInstrumentations,
  INSTRUMENTATION_NAMES,
  instrumentationConfig,
  selectInstrumentations,
} from '@nos/telemetry/instrumentations';
import { hookedModules, loaderHookApi } from '@nos/telemetry/loader-hook';
import { repoRoot } from '../support/service-process.ts';

describe('instrumentations', () => {
  const ON = [
    '@opentelemetry/instrumentation-http',
    '@opentelemetry/instrumentation-express',
    '@opentelemetry/instrumentation-undici',
    '@opentelemetry/instrumentation-pino',
    '@opentelemetry/instrumentation-runtime-node',
  ];

  /** Instrumentation names created under `env` (then disabled again: creating one enables it). */
  function created(env: Record<string, string>): string[] {
    const instrumentations = createInstrumentations(env);
    for (const i of instrumentations) i.disable();
    return instrumentations.map((i) => i.instrumentationName).sort();
  }

  test('five, configured: no duplicate log sending, no middleware spans', () => {
    const config = instrumentationConfig();
    assert.deepEqual(Object.keys(config).sort(), [...INSTRUMENTATION_NAMES].sort());
    // The transport exports every record: instrumentation-pino only adds the trace ids.
    assert.equal(config.pino.disableLogSending, true);
    assert.deepEqual(config.express.ignoreLayersType, ['middleware', 'router', 'request_handler']);
  });

  test('creates exactly the five; OTEL_NODE_*_INSTRUMENTATIONS can narrow them, never add', () => {
    assert.deepEqual(created({}), [...ON].sort());
    assert.deepEqual(
      created({ OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'runtime-node' }),
      ON.filter((n) => !n.endsWith('runtime-node')).sort(),
    );
    assert.deepEqual(created({ OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http, fs,dns,net' }), [
      '@opentelemetry/instrumentation-http',
    ]);
    assert.deepEqual(selectInstrumentations({ OTEL_NODE_ENABLED_INSTRUMENTATIONS: ' ' }), [
      ...INSTRUMENTATION_NAMES,
    ]);
  });

  test('the loader hook intercepts the modules the five patch, through registerHooks on Node 26', () => {
    const instrumentations = createInstrumentations({});
    for (const i of instrumentations) i.disable();
    assert.deepEqual(hookedModules(instrumentations).sort(), ['express', 'http', 'https', 'pino']);
    if (Number(process.versions.node.split('.')[0]) >= 26) {
      assert.equal(loaderHookApi(), 'registerHooks');
    }
  });

  test('the tuned package does not load auto-instrumentations-node (the stock mode does)', () => {
    const dir = join(repoRoot, 'services', 'telemetry', 'src');
    for (const file of readdirSync(dir)) {
      assert.doesNotMatch(
        readFileSync(join(dir, file), 'utf8'),
        /from '@opentelemetry\/auto-instrumentations-node/,
        file,
      );
    }
  });
});
