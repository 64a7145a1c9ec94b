// RFC 9457 problem documents and the status an error asks for.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { errorStatus, problemBody, requestPath } from '@nos/service-kit';

describe('problem documents', () => {
  test('RFC 9457 members, path without query, bounded length', () => {
    const req = { url: '/user/abc?token=secret', method: 'GET' } as never;
    assert.deepEqual(problemBody(req, 400, 'bad id'), {
      type: 'about:blank',
      title: 'Bad Request',
      status: 400,
      detail: 'bad id',
      instance: '/user/abc',
    });
    assert.equal(requestPath({ url: `/${'a'.repeat(500)}` } as never).length, 203);
  });

  test('errorStatus keeps client errors, everything else is 500', () => {
    assert.equal(errorStatus({ status: 413 }), 413);
    assert.equal(errorStatus({ statusCode: 400 }), 400);
    assert.equal(errorStatus({ status: 302 }), 500);
    assert.equal(errorStatus(new Error('x')), 500);
    assert.equal(errorStatus(undefined), 500);
  });
});
