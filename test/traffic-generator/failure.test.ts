// How a request that got no HTTP response is named in the statistics.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { failureName } from '@nos/traffic-generator/failure';

describe('failureName', () => {
  test("fetch's failures by their code or name", async () => {
    const refused = new TypeError('fetch failed', {
      cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
    });
    assert.equal(failureName(refused), 'ECONNREFUSED');
    // A server that accepts and never answers.
    const silent = createServer(() => {});
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const { port } = silent.address() as AddressInfo;
    const timeout = await fetch(`http://127.0.0.1:${port}/`, {
      signal: AbortSignal.timeout(50),
    }).catch((error: unknown) => error);
    silent.close();
    assert.equal(failureName(timeout), 'TimeoutError');
    assert.equal(failureName(new Error('something odd')), 'something odd');
  });
});
