import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { bearerToken, credentialOf, effectiveAuthorization, hashedEntry, matchApiToken, newApiToken, parseApiTokens, tokenDigest } from './api-tokens';

const sha = (token: string) => createHash('sha256').update(token).digest('hex');
const OPS = 'fct_ops-secret';
const CI = 'fct_ci-secret';

test('parseApiTokens reads each form of entry', () => {
  const table: Array<{ raw: string; expect: Array<{ name: string; scope: string; token: string; storedInClear: boolean }> }> = [
    { raw: `ops:operator:sha256:${sha(OPS)}`, expect: [{ name: 'ops', scope: 'operator', token: OPS, storedInClear: false }] },
    {
      raw: ` ops:operator:sha256:${sha(OPS)} ,, ci:read-only:sha256:${sha(CI)},`,
      expect: [
        { name: 'ops', scope: 'operator', token: OPS, storedInClear: false },
        { name: 'ci', scope: 'read-only', token: CI, storedInClear: false },
      ],
    },
    { raw: `root:admin:sha256:${sha(OPS).toUpperCase()}`, expect: [{ name: 'root', scope: 'admin', token: OPS, storedInClear: false }] },
    // The earlier form: a token in clear, admin, named by its position.
    { raw: 'dev-token', expect: [{ name: 'plaintext-1', scope: 'admin', token: 'dev-token', storedInClear: true }] },
    {
      raw: `ci:read-only:sha256:${sha(CI)},dev-token`,
      expect: [
        { name: 'ci', scope: 'read-only', token: CI, storedInClear: false },
        { name: 'plaintext-2', scope: 'admin', token: 'dev-token', storedInClear: true },
      ],
    },
    { raw: '', expect: [] },
    { raw: ' , ', expect: [] },
  ];
  for (const row of table) {
    const { tokens, problems } = parseApiTokens(row.raw);
    assert.deepEqual(problems, [], row.raw);
    assert.deepEqual(
      tokens.map((t) => ({ name: t.name, scope: t.scope, storedInClear: t.storedInClear, digest: t.digest.toString('hex') })),
      row.expect.map((e) => ({ name: e.name, scope: e.scope, storedInClear: e.storedInClear, digest: sha(e.token) })),
      row.raw,
    );
  }
});

test('parseApiTokens refuses malformed entries by position, never quoting them', () => {
  const secretLike = 'my:secret:token';
  const table: Array<[string, RegExp]> = [
    [secretLike, /^entry 1: expected <name>:<scope>:sha256:<64 hex digits>/],
    [`ops:operater:sha256:${sha(OPS)}`, /^entry 1: the scope must be one of read-only, operator, admin$/],
    [`ops:operator:md5:${sha(OPS)}`, /^entry 1: expected/],
    [`ops:operator:sha256:${sha(OPS).slice(1)}`, /^entry 1: the digest must be 64 hex digits/],
    [`ops:operator:sha256:${sha(OPS)}:x`, /^entry 1: expected/],
    [`o.ps:operator:sha256:${sha(OPS)}`, /^entry 1: the name must be/],
    [`:operator:sha256:${sha(OPS)}`, /^entry 1: the name must be/],
    [`anonymous:admin:sha256:${sha(OPS)}`, /^entry 1: the name "anonymous" is reserved/],
    [`ok,b\u00e4d`, /^entry 2: a token must be printable ASCII/],
  ];
  for (const [raw, pattern] of table) {
    const { tokens, problems } = parseApiTokens(raw);
    assert.equal(problems.length, 1, raw);
    assert.match(problems[0]!, pattern, raw);
    assert.ok(!problems[0]!.includes('secret'), 'an entry is never quoted');
    assert.ok(tokens.every((t) => !t.storedInClear || !raw.includes(':')), 'a mistyped hashed entry is never taken as a token in clear');
  }
});

test('parseApiTokens refuses two tokens with one name, and one token under two names', () => {
  assert.match(parseApiTokens(`ops:operator:sha256:${sha(OPS)},ops:admin:sha256:${sha(CI)}`).problems.join(), /"ops" is given twice/);
  assert.match(parseApiTokens(`ops:operator:sha256:${sha(OPS)},boss:admin:sha256:${sha(OPS)}`).problems.join(), /"boss" is the same token as "ops"/);
  assert.match(parseApiTokens(`plaintext-2:admin:sha256:${sha(OPS)},dev`).problems.join(), /"plaintext-2" is given twice/);
});

test('hashedEntry is what parseApiTokens reads back, and newApiToken makes distinct, prefixed, header-safe tokens', () => {
  const token = newApiToken();
  assert.match(token, /^fct_[A-Za-z0-9_-]{43}$/);
  assert.notEqual(newApiToken(), token);
  assert.equal(newApiToken(() => Buffer.alloc(32, 0xff)), `fct_${'_'.repeat(42)}8`);
  const { tokens, problems } = parseApiTokens(hashedEntry('ops', 'operator', token));
  assert.deepEqual(problems, []);
  assert.equal(tokens[0]!.name, 'ops');
  assert.equal(matchApiToken(token, tokens), tokens[0]);
  assert.ok(!hashedEntry('ops', 'operator', token).includes(token.slice(4)), 'the entry never holds the token');
});

test('matchApiToken finds the token presented, and nothing for near misses', () => {
  const { tokens } = parseApiTokens(`ops:operator:sha256:${sha(OPS)},ci:read-only:sha256:${sha(CI)},dev`);
  assert.equal(matchApiToken(OPS, tokens)?.name, 'ops');
  assert.equal(matchApiToken(CI, tokens)?.name, 'ci');
  assert.equal(matchApiToken('dev', tokens)?.name, 'plaintext-3');
  for (const miss of ['fct_ops-secre', `${OPS}x`, OPS.toUpperCase(), '', ` ${OPS}`, sha(OPS), `ops:operator:sha256:${sha(OPS)}`]) {
    assert.equal(matchApiToken(miss, tokens), undefined, miss);
  }
  assert.equal(matchApiToken(OPS, []), undefined);
  assert.deepEqual(tokenDigest(OPS), Buffer.from(sha(OPS), 'hex'));
});

test('bearerToken reads only the Bearer scheme; credentialOf says none, invalid or which token', () => {
  assert.equal(bearerToken('Bearer abc'), 'abc');
  assert.equal(bearerToken('bearer   abc '), 'abc');
  for (const header of ['Basic abc', 'Bearer', 'Bearer a b', undefined]) assert.equal(bearerToken(header), undefined, String(header));
  const { tokens } = parseApiTokens(`ops:operator:sha256:${sha(OPS)}`);
  assert.deepEqual(credentialOf(undefined, tokens), { kind: 'none' });
  assert.deepEqual(credentialOf(`Basic ${OPS}`, tokens), { kind: 'none' });
  assert.deepEqual(credentialOf('Bearer wrong', tokens), { kind: 'invalid' });
  assert.deepEqual(credentialOf(`Bearer ${OPS}`, tokens), { kind: 'token', token: tokens[0] });
});

test('effectiveAuthorization: the header everywhere; a query token or cookie only on an event stream GET', () => {
  const req = (method: string, url: string, extra: { authorization?: string; cookie?: string } = {}) => ({ method, url, headers: extra });
  assert.equal(effectiveAuthorization(req('GET', '/v1/tasks', { authorization: 'Bearer a' })), 'Bearer a');
  assert.equal(effectiveAuthorization(req('GET', '/v1/events?access_token=q')), 'Bearer q');
  assert.equal(effectiveAuthorization(req('GET', '/v1/tasks/t-1/events?x=1&access_token=q%2Br')), 'Bearer q+r');
  assert.equal(effectiveAuthorization(req('GET', '/v1/events', { cookie: 'other=1; fleetcast_token=c%2Bd' })), 'Bearer c+d');
  // The header wins over both.
  assert.equal(effectiveAuthorization(req('GET', '/v1/events?access_token=q', { authorization: 'Bearer h' })), 'Bearer h');
  // Any other route, or another method on the stream's path, takes no token from the query or a cookie.
  assert.equal(effectiveAuthorization(req('GET', '/v1/tasks?access_token=q')), undefined);
  assert.equal(effectiveAuthorization(req('GET', '/v1/tasks/t-1', { cookie: 'fleetcast_token=c' })), undefined);
  assert.equal(effectiveAuthorization(req('POST', '/v1/events?access_token=q')), undefined);
  assert.equal(effectiveAuthorization(req('GET', '/v1/tasks/t-1/events/x?access_token=q')), undefined);
  // Repeated parameters and bad cookie encodings count as no token.
  assert.equal(effectiveAuthorization(req('GET', '/v1/events?access_token=a&access_token=b')), undefined);
  assert.equal(effectiveAuthorization(req('GET', '/v1/events', { cookie: 'fleetcast_token=%E0%A4%A' })), undefined);
});
