import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auditEventV1Schema, ErrorCode } from '@fleetcast/contracts';
import { codeOfHttpStatus } from '@fleetcast/service-kit';
import type { Credential } from '../auth/api-tokens';
import { buildAuditEvent, isAudited, outcomeOf, RequestFacts, resourceIdOf } from './audit-record';

const ops: Credential = { kind: 'token', token: { name: 'ops', scope: 'operator', digest: Buffer.alloc(32), storedInClear: false } };

function facts(overrides: Partial<RequestFacts> = {}): RequestFacts {
  return {
    requestId: '6f1c1f9e-8a4b-4c1e-9d7a-2b3c4d5e6f70',
    receivedAt: new Date('2026-03-01T10:00:00.000Z'),
    durationMs: 12.3456,
    credential: ops,
    method: 'POST',
    url: '/v1/packages',
    route: '/v1/packages',
    params: {},
    resourceId: 'pkg-1',
    status: 201,
    finished: true,
    errorCode: undefined,
    codeOfStatus: codeOfHttpStatus,
    clientAddress: '::ffff:10.1.2.3',
    forwardedFor: undefined,
    ...overrides,
  };
}

test('only the methods that change state are recorded', () => {
  const table: Array<[string, boolean]> = [
    ['POST', true],
    ['PUT', true],
    ['PATCH', true],
    ['DELETE', true],
    ['GET', false],
    ['HEAD', false],
    ['OPTIONS', false],
    ['post', false],
  ];
  for (const [method, audited] of table) assert.equal(isAudited(method), audited, method);
});

test('the outcome follows the status, and a request whose client left is abandoned', () => {
  const table: Array<[number, boolean, string]> = [
    [200, true, 'accepted'],
    [201, true, 'accepted'],
    [304, true, 'accepted'],
    [400, true, 'refused'],
    [401, true, 'refused'],
    [403, true, 'refused'],
    [404, true, 'refused'],
    [500, true, 'failed'],
    [503, true, 'failed'],
    [200, false, 'abandoned'],
  ];
  for (const [status, finished, outcome] of table) assert.equal(outcomeOf(status, finished), outcome, `${status} ${finished}`);
});

test('the resource ID comes from the answer, and nothing else of it', () => {
  const table: Array<[unknown, string | null]> = [
    [{ id: 'pkg-1', name: 'Editor' }, 'pkg-1'],
    [{ deviceId: 'dev-1', userJwt: 'secret' }, 'dev-1'],
    [{ id: 'tok-1', token: 'the-secret', deviceId: 'x' }, 'tok-1'],
    [{ id: '' }, null],
    [{ id: 7 }, null],
    [{ items: [] }, null],
    [undefined, null],
    ['pkg-1', null],
    [null, null],
    [{ id: 'x'.repeat(500) }, 'x'.repeat(128)],
  ];
  for (const [answer, id] of table) assert.equal(resourceIdOf(answer), id, JSON.stringify(answer));
});

test('an accepted request: who, what, when, and the ID it created', () => {
  const event = buildAuditEvent(facts());
  assert.deepEqual(event, {
    requestId: '6f1c1f9e-8a4b-4c1e-9d7a-2b3c4d5e6f70',
    occurredAt: '2026-03-01T10:00:00.000Z',
    actor: { name: 'ops', scope: 'operator' },
    method: 'POST',
    route: '/v1/packages',
    path: '/v1/packages',
    params: {},
    resourceId: 'pkg-1',
    status: 201,
    outcome: 'accepted',
    errorCode: null,
    clientAddress: '10.1.2.3',
    forwardedFor: null,
    durationMs: 12.35,
  });
  assert.ok(auditEventV1Schema.safeParse(event).success);
});

test('refusals, failures and abandoned requests', () => {
  type Row = { name: string; facts: Partial<RequestFacts>; expect: Partial<ReturnType<typeof buildAuditEvent>> };
  const table: Row[] = [
    {
      name: 'refused by scope: the code the guard noted',
      facts: { status: 403, errorCode: ErrorCode.Forbidden, resourceId: undefined },
      expect: { outcome: 'refused', status: 403, errorCode: ErrorCode.Forbidden, resourceId: null },
    },
    {
      name: 'no token: anonymous',
      facts: { status: 401, credential: { kind: 'none' }, errorCode: ErrorCode.Unauthorized },
      expect: { actor: { name: 'anonymous', scope: null }, errorCode: ErrorCode.Unauthorized, resourceId: null },
    },
    { name: 'a wrong token: anonymous', facts: { status: 401, credential: { kind: 'invalid' } }, expect: { actor: { name: 'anonymous', scope: null }, errorCode: ErrorCode.Unauthorized } },
    {
      name: 'refused before any code was noted (no route): the code of the status',
      facts: { status: 404, route: undefined, params: undefined, url: '/v1/nothing/here?x=1' },
      expect: { route: null, params: {}, path: '/v1/nothing/here', errorCode: ErrorCode.NotFound },
    },
    { name: 'a service error', facts: { status: 404, errorCode: ErrorCode.PackageNotFound, params: { id: 'pkg-9' } }, expect: { errorCode: ErrorCode.PackageNotFound, params: { id: 'pkg-9' } } },
    { name: 'failed', facts: { status: 503, errorCode: ErrorCode.Unavailable }, expect: { outcome: 'failed', errorCode: ErrorCode.Unavailable, resourceId: null } },
    { name: 'the client went away', facts: { status: 200, finished: false }, expect: { outcome: 'abandoned', status: 499, errorCode: null, resourceId: null } },
    { name: 'a proxy said who the client is', facts: { forwardedFor: ['203.0.113.7', '10.0.0.1'] }, expect: { forwardedFor: '203.0.113.7, 10.0.0.1' } },
    { name: 'an IPv6 client', facts: { clientAddress: '2001:db8::1' }, expect: { clientAddress: '2001:db8::1' } },
    { name: 'a very long path is cut', facts: { url: `/v1/${'a'.repeat(1000)}` }, expect: { path: `/v1/${'a'.repeat(508)}` } },
  ];
  for (const row of table) {
    const event = buildAuditEvent(facts(row.facts));
    for (const [key, value] of Object.entries(row.expect)) assert.deepEqual(event[key as keyof typeof event], value, `${row.name}: ${key}`);
    assert.ok(auditEventV1Schema.safeParse(event).success, row.name);
  }
});
