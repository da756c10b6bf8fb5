import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bearerTokenOf } from './bearer-token.guard';

test('bearer token: read from the Authorization header, anything else is none', () => {
  const table: Array<[string | undefined, string | null]> = [
    ['Bearer abc', 'abc'],
    ['bearer abc', 'abc'],
    ['Bearer  abc ', 'abc'],
    [undefined, null],
    ['', null],
    ['Bearer', null],
    ['Bearer ', null],
    ['Basic abc', null],
    ['Bearer a b', null],
    ['Bearerabc', null],
  ];
  for (const [header, token] of table) assert.equal(bearerTokenOf(header), token, String(header));
});
