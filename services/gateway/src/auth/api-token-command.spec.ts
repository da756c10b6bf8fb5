import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiTokenUsageError, runApiTokenCommand } from './api-token-command';
import { matchApiToken, parseApiTokens } from './api-tokens';

const noStdin = () => assert.fail('new reads nothing on stdin');

test('new prints a token once and the entry that accepts it with its name and scope', () => {
  const out = runApiTokenCommand(['new', '--name', 'ops-team', '--scope', 'operator'], { readStdin: noStdin });
  const token = /^API_TOKEN=(\S+)$/m.exec(out)?.[1];
  const entry = /^API_TOKENS_ENTRY=(\S+)$/m.exec(out)?.[1];
  assert.ok(token && entry, out);
  assert.match(token, /^fct_/);
  assert.equal(out.split(token).length, 2, 'the token appears once');
  assert.match(entry, /^ops-team:operator:sha256:[0-9a-f]{64}$/);
  const { tokens, problems } = parseApiTokens(entry);
  assert.deepEqual(problems, []);
  assert.deepEqual(matchApiToken(token, tokens)?.scope, 'operator');
});

test('hash turns a token read on stdin into its entry', () => {
  const out = runApiTokenCommand(['hash', '--name', 'ci', '--scope', 'read-only'], { readStdin: () => 'old-plain-token\n' });
  assert.ok(!out.includes('old-plain-token'));
  const entry = /^API_TOKENS_ENTRY=(\S+)$/m.exec(out)?.[1]!;
  assert.equal(matchApiToken('old-plain-token', parseApiTokens(entry).tokens)?.name, 'ci');
});

test('bad command lines are refused with a reason', () => {
  const table: Array<[string[], string, RegExp]> = [
    [[], '', /give a command/],
    [['rotate'], '', /unknown command "rotate"/],
    [['new', '--scope', 'admin'], '', /--name is required/],
    [['new', '--name', 'a.b', '--scope', 'admin'], '', /--name must be/],
    [['new', '--name', 'anonymous', '--scope', 'admin'], '', /reserved/],
    [['new', '--name', 'ops'], '', /--scope must be one of read-only, operator, admin/],
    [['new', '--name', 'ops', '--scope', 'root'], '', /--scope must be one of/],
    [['hash', '--name', 'ci', '--scope', 'admin', 'the-token'], '', /the token is read on stdin/],
    [['hash', '--name', 'ci', '--scope', 'admin'], '  \n', /got none/],
    [['hash', '--name', 'ci', '--scope', 'admin'], 'a,b', /without spaces or commas/],
    [['hash', '--name', 'ci', '--scope', 'admin'], 'a b', /without spaces or commas/],
  ];
  for (const [argv, stdin, pattern] of table) {
    assert.throws(() => runApiTokenCommand(argv, { readStdin: () => stdin }), (e: unknown) => e instanceof ApiTokenUsageError && pattern.test(e.message), argv.join(' '));
  }
  assert.throws(() => runApiTokenCommand(['new', '--name', 'ops', '--scope', 'admin', '--secret', 'x'], { readStdin: noStdin }), /Unknown option/);
});
