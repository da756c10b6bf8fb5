import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expandInstallArgs } from './install-command';

test('expandInstallArgs: substitutes the package path wherever the token is, nothing else', () => {
  const path = '/var/cache/fleet cast/content/ab"c';
  const cases: Array<[string[], string[]]> = [
    [[], []],
    [['/i', '{package}', '/quiet'], ['/i', path, '/quiet']],
    [['--source={package}', '--log={package}.log'], [`--source=${path}`, `--log=${path}.log`]],
    [['{package}{package}'], [path + path]],
    [['{Package}', '{ package }', '$PACKAGE'], ['{Package}', '{ package }', '$PACKAGE']],
  ];
  for (const [args, expected] of cases) assert.deepEqual(expandInstallArgs(args, path), expected);
});

test('expandInstallArgs: a "$&" in the path is taken literally (no regex replacement patterns)', () => {
  assert.deepEqual(expandInstallArgs(['{package}'], 'C:\\a$&b'), ['C:\\a$&b']);
});
