// The kit's configuration readers: strict integers, ports, enumerations, URLs, and one error naming
// every bad variable.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ConfigError,
  httpUrl,
  int,
  logLevel,
  oneOf,
  parseStrictInt,
  port,
  readConfig,
} from '@nos/service-kit';

describe('parseStrictInt', () => {
  for (const [raw, expected] of [
    ['1', 1],
    ['123', 123],
    ['0', 0],
    ['-5', -5],
    ['2147483647', 2147483647],
  ] as const) {
    test(`accepts ${raw}`, () => assert.equal(parseStrictInt(raw, -10, 2147483647), expected));
  }
  for (const raw of [
    '',
    ' 1',
    '1 ',
    '+1',
    '01',
    '1.0',
    '1e3',
    '0x10',
    'abc',
    '12abc',
    '-0',
    'Infinity',
    '99999999999999999',
  ]) {
    test(`rejects ${JSON.stringify(raw)}`, () =>
      assert.equal(parseStrictInt(raw, -10, Number.MAX_SAFE_INTEGER), undefined));
  }
  test('enforces the range', () => {
    assert.equal(parseStrictInt('11', 1, 10), undefined);
    assert.equal(parseStrictInt('0', 1, 10), undefined);
    assert.equal(parseStrictInt('10', 1, 10), 10);
  });
});

describe('readers', () => {
  test('int: default when unset or blank, value when valid, error naming the range otherwise', () => {
    const read = int({ default: 5, min: 1, max: 10 });
    assert.equal(read(undefined), 5);
    assert.equal(read('  '), 5);
    assert.equal(read(' 7 '), 7);
    assert.throws(() => read('11'), /between 1 and 10 \(got "11"\)/);
    assert.throws(() => read('seven'), /got "seven"/);
  });

  test('port', () => {
    assert.equal(port(8080)(undefined), 8080);
    assert.equal(port(8080)('65535'), 65535);
    assert.throws(() => port(8080)('0'), /TCP port between 1 and 65535/);
    assert.throws(() => port(8080)('70000'), /TCP port/);
  });

  test('oneOf and logLevel are case-insensitive', () => {
    assert.equal(oneOf(['a', 'b'], 'a')('B'), 'b');
    assert.equal(logLevel(undefined), 'info');
    assert.equal(logLevel('DEBUG'), 'debug');
    assert.throws(
      () => logLevel('verbose'),
      /must be one of fatal, error, warn, info, debug, trace, silent/,
    );
  });

  test('httpUrl normalises and rejects what cannot be a base URL', () => {
    const read = httpUrl('http://localhost:8081');
    assert.equal(read(undefined), 'http://localhost:8081');
    assert.equal(read('https://users.internal:9000/'), 'https://users.internal:9000');
    assert.equal(read('http://user-service:8081/base/'), 'http://user-service:8081/base');
    assert.throws(() => read('user-service:8081'), /http or https/);
    assert.throws(() => read('not a url'), /absolute http\(s\) URL/);
    assert.throws(() => read('ftp://x'), /http or https/);
    assert.throws(() => read('http://u:p@x'), /credentials/);
    assert.throws(() => read('http://x/?a=1'), /query/);
  });

  test('long bad values are shortened in the message', () => {
    assert.throws(
      () => int({ default: 1, min: 1, max: 2 })('x'.repeat(500)),
      (error: Error) => error.message.length < 200,
    );
  });
});

describe('readConfig', () => {
  test('reports every invalid variable, by name, in one error', () => {
    try {
      readConfig(
        { A: 'x', B: '2', C: 'nope' },
        {
          A: int({ default: 1, min: 1, max: 9 }),
          B: int({ default: 1, min: 1, max: 9 }),
          C: logLevel,
        },
      );
      assert.fail('expected a ConfigError');
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.problems.length, 2);
      assert.match(
        error.message,
        /^invalid configuration: A must be an integer between 1 and 9 \(got "x"\); C must be one of/,
      );
    }
  });
});
