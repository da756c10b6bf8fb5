import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { FleetcastError } from '@fleetcast/contracts';
import { mediaTypeOf, parseTopologyBody } from './topology-body';

describe('topology upload bodies', () => {
  const cases: Array<[string, string, string | undefined, unknown]> = [
    ['JSON', '{"a": [1, 2]}', 'application/json', { a: [1, 2] }],
    ['JSON without a Content-Type', '{"a": 1}', undefined, { a: 1 }],
    ['a +json type', '{"a": 1}', 'application/vnd.fleetcast+json', { a: 1 }],
    ['YAML with parameters on its type', 'a:\n  - 1\n  - two\n', 'application/yaml; charset=utf-8', { a: [1, 'two'] }],
    ['YAML as text/yaml, with a comment', '# offices\nid: hq\n', 'TEXT/YAML', { id: 'hq' }],
    // YAML 1.2's core schema: no timestamps, no sexagesimal numbers, "no" stays a string.
    ['YAML 1.2 scalars', 'a: 2026-01-01\nb: 1:20\nc: no\n', 'application/yaml', { a: '2026-01-01', b: '1:20', c: 'no' }],
  ];
  for (const [name, text, type, expected] of cases) {
    it(`reads ${name}`, () => assert.deepEqual(parseTopologyBody(text, type), expected));
  }

  const refusals: Array<[string, string, string | undefined, RegExp]> = [
    ['broken JSON', '{"a": ', 'application/json', /not valid JSON/],
    ['broken YAML, with its line', 'a: [1, 2\nb: 3\n', 'application/yaml', /not valid YAML: line \d+, column \d+/],
    ['a key given twice', 'a: 1\na: 2\n', 'application/yaml', /not valid YAML: line 2, column 1: Map keys must be unique/],
    ['an empty body', '  \n', 'application/yaml', /request body is missing/],
    ['another type', 'a,b', 'text/csv', /not text\/csv/],
  ];
  for (const [name, text, type, message] of refusals) {
    it(`refuses ${name}`, () => {
      assert.throws(() => parseTopologyBody(text, type), (error: FleetcastError) => {
        assert.equal(error.code, 'CONTRACT.INVALID');
        assert.match(error.message, message);
        return true;
      });
    });
  }

  it('reads the bare media type', () => {
    assert.equal(mediaTypeOf('Application/YAML ; charset=utf-8'), 'application/yaml');
    assert.equal(mediaTypeOf(''), null);
    assert.equal(mediaTypeOf(undefined), null);
  });
});
