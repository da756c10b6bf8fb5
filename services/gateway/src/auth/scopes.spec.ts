import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiScope, ErrorCode } from '@fleetcast/contracts';
import type { Credential } from './api-tokens';
import { decideAccess, requiredScope, scopeCovers } from './scopes';

const holder = (scope: ApiScope): Credential => ({ kind: 'token', token: { name: `${scope}-holder`, scope, digest: Buffer.alloc(32), storedInClear: false } });

test('each scope covers itself and those below it', () => {
  const table: Array<[ApiScope, ApiScope, boolean]> = [
    ['read-only', 'read-only', true],
    ['read-only', 'operator', false],
    ['read-only', 'admin', false],
    ['operator', 'read-only', true],
    ['operator', 'operator', true],
    ['operator', 'admin', false],
    ['admin', 'read-only', true],
    ['admin', 'operator', true],
    ['admin', 'admin', true],
  ];
  for (const [granted, required, covers] of table) assert.equal(scopeCovers(granted, required), covers, `${granted} -> ${required}`);
});

test('a route needs its declared scope, else read-only to read and operator to change', () => {
  const table: Array<[string, ApiScope | undefined, ApiScope]> = [
    ['GET', undefined, 'read-only'],
    ['get', undefined, 'read-only'],
    ['HEAD', undefined, 'read-only'],
    ['OPTIONS', undefined, 'read-only'],
    ['POST', undefined, 'operator'],
    ['PUT', undefined, 'operator'],
    ['PATCH', undefined, 'operator'],
    ['DELETE', undefined, 'operator'],
    ['GET', 'admin', 'admin'],
    ['POST', 'admin', 'admin'],
    // A declaration may also lower the default.
    ['POST', 'read-only', 'read-only'],
  ];
  for (const [method, declared, needed] of table) assert.equal(requiredScope(method, declared), needed, `${method} ${declared}`);
});

test('decideAccess: who may do what', () => {
  type Row = { credential: Credential; method: string; declared?: ApiScope; open?: boolean; authDisabled?: boolean; expect: 'allowed' | 'AUTH.UNAUTHORIZED' | 'AUTH.FORBIDDEN' };
  const table: Row[] = [
    // Reads: any valid token.
    { credential: holder('read-only'), method: 'GET', expect: 'allowed' },
    { credential: holder('operator'), method: 'GET', expect: 'allowed' },
    { credential: holder('admin'), method: 'GET', expect: 'allowed' },
    // Changes: operator and admin.
    { credential: holder('read-only'), method: 'POST', expect: 'AUTH.FORBIDDEN' },
    { credential: holder('read-only'), method: 'PUT', expect: 'AUTH.FORBIDDEN' },
    { credential: holder('read-only'), method: 'PATCH', expect: 'AUTH.FORBIDDEN' },
    { credential: holder('operator'), method: 'POST', expect: 'allowed' },
    { credential: holder('admin'), method: 'PATCH', expect: 'allowed' },
    // Admin routes (audit log, license install, retirement).
    { credential: holder('read-only'), method: 'GET', declared: 'admin', expect: 'AUTH.FORBIDDEN' },
    { credential: holder('operator'), method: 'GET', declared: 'admin', expect: 'AUTH.FORBIDDEN' },
    { credential: holder('operator'), method: 'POST', declared: 'admin', expect: 'AUTH.FORBIDDEN' },
    { credential: holder('admin'), method: 'GET', declared: 'admin', expect: 'allowed' },
    { credential: holder('admin'), method: 'PUT', declared: 'admin', expect: 'allowed' },
    // No token, or one that matches none: 401 whatever the route needs.
    { credential: { kind: 'none' }, method: 'GET', expect: 'AUTH.UNAUTHORIZED' },
    { credential: { kind: 'invalid' }, method: 'GET', expect: 'AUTH.UNAUTHORIZED' },
    { credential: { kind: 'invalid' }, method: 'POST', declared: 'admin', expect: 'AUTH.UNAUTHORIZED' },
    // Open routes (probes, enrollment) and AUTH_DISABLED let everyone through.
    { credential: { kind: 'none' }, method: 'POST', open: true, expect: 'allowed' },
    { credential: holder('read-only'), method: 'POST', open: true, expect: 'allowed' },
    { credential: { kind: 'none' }, method: 'PUT', declared: 'admin', authDisabled: true, expect: 'allowed' },
  ];
  for (const row of table) {
    const decision = decideAccess({ credential: row.credential, method: row.method, route: '/v1/x', declared: row.declared, open: row.open ?? false, authDisabled: row.authDisabled ?? false });
    const got = decision.allowed ? 'allowed' : decision.code;
    assert.equal(got, row.expect, JSON.stringify({ ...row, credential: row.credential.kind === 'token' ? row.credential.token.scope : row.credential.kind }));
  }
});

test('a 403 names the route, the scope it needs and the token that fell short', () => {
  const decision = decideAccess({ credential: holder('read-only'), method: 'post', route: '/v1/packages', open: false, authDisabled: false });
  assert.equal(decision.allowed, false);
  if (decision.allowed || decision.code !== ErrorCode.Forbidden) return;
  assert.equal(decision.needed, 'operator');
  assert.equal(decision.message, 'POST /v1/packages needs an API token with the operator scope; "read-only-holder" has read-only');
  const missing = decideAccess({ credential: { kind: 'none' }, method: 'GET', route: '/v1/packages', open: false, authDisabled: false });
  assert.deepEqual(missing, { allowed: false, code: ErrorCode.Unauthorized, message: 'missing API token: send Authorization: Bearer <token>' });
});
