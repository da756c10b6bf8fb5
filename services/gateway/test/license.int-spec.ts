// The gateway's license and seat routes against a real NATS server, with the licensing service
// stood in for by NATS responders registered here.
import { after, before, describe, it, TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { INestApplication } from '@nestjs/common';
import { connect, NatsConnection } from 'nats';
import { startTestGateway } from './support/test-gateway';
import { standIn } from './support/rpc-stand-in';
import request from 'supertest';
import { ErrorCode, LicenseStatus, LicensingRpc, RpcReply, Seat } from '@fleetcast/contracts';
import { startNatsServer, stopAll } from '@fleetcast/testing';

const TOKEN = 'license-int-test-token';
const auth = `Bearer ${TOKEN}`;

const status: LicenseStatus = {
  state: 'expiring',
  policy: 'allow',
  licenseId: 'lic-1',
  customer: 'Example Corp',
  seats: 10,
  used: 12,
  over: 2,
  features: ['multicast'],
  issuedAt: '2026-01-01T00:00:00.000Z',
  expiresAt: '2026-02-01T00:00:00.000Z',
  installedAt: '2026-01-02T00:00:00.000Z',
  graceUntil: '2026-02-15T00:00:00.000Z',
};

const seat = (deviceId: string): Seat => ({ deviceId, licenseId: 'lic-1', assignedAt: '2026-01-03T00:00:00.000Z', releasedAt: null, releaseReason: null });

describe('gateway: license and seats', () => {
  let nc: NatsConnection;
  let app: INestApplication | undefined;
  let baseUrl: string;

  /** A stand-in for the service that serves `subject`: the requests it got. */
  const respond = async (t: TestContext, subject: string, answer: (req: Record<string, unknown>) => RpcReply) => (await standIn(nc, t, subject, answer)).calls;

  before(async () => {
    const nats = await startNatsServer();
    nc = await connect(nats.adminConnectOptions());
    ({ app, baseUrl } = await startTestGateway(nats, { apiTokens: TOKEN, logName: 'gateway-license-int-test' }));
  });

  after(async () => {
    await app?.close();
    await nc?.close();
    await stopAll();
  });

  const api = () => request(baseUrl);

  it('GET /v1/license answers what the licensing service reports', async (t) => {
    const calls = await respond(t, LicensingRpc.getLicense.subject, () => ({ ok: true, data: status }));
    const res = await api().get('/v1/license').set('authorization', auth).expect(200);
    assert.deepEqual(res.body, status);
    assert.deepEqual(calls, [{}]);
  });

  it('needs a token like every route', async () => {
    const res = await api().get('/v1/license').expect(401);
    assert.equal(res.body.code, ErrorCode.Unauthorized);
  });

  it('PUT /v1/license passes the key on and answers the new status', async (t) => {
    const calls = await respond(t, LicensingRpc.installLicense.subject, () => ({ ok: true, data: status }));
    const res = await api().put('/v1/license').set('authorization', auth).send({ key: 'FCL1.abc.def' }).expect(200);
    assert.equal(res.body.licenseId, 'lic-1');
    assert.deepEqual(calls, [{ key: 'FCL1.abc.def' }]);
  });

  it('PUT /v1/license maps a refused key to 422 with the licensing code, and a missing key to 400', async (t) => {
    const calls = await respond(t, LicensingRpc.installLicense.subject, (req) =>
      req.key === 'expired'
        ? { ok: false, error: { code: ErrorCode.LicenseExpired, message: 'license key refused: license lic-0 expired at 2025-01-01T00:00:00.000Z' } }
        : { ok: false, error: { code: ErrorCode.LicenseInvalid, message: 'license key refused: the signature does not match', details: [{ path: 'key', message: 'the signature does not match' }] } },
    );
    const invalid = await api().put('/v1/license').set('authorization', auth).send({ key: 'FCL1.x.y' }).expect(422);
    assert.deepEqual(invalid.body, {
      code: ErrorCode.LicenseInvalid,
      message: 'license key refused: the signature does not match',
      details: [{ path: 'key', message: 'the signature does not match' }],
    });
    const expired = await api().put('/v1/license').set('authorization', auth).send({ key: 'expired' }).expect(422);
    assert.equal(expired.body.code, ErrorCode.LicenseExpired);
    const missing = await api().put('/v1/license').set('authorization', auth).send({}).expect(400);
    assert.equal(missing.body.code, ErrorCode.ContractInvalid);
    assert.match(missing.body.message, /key: Required/);
    assert.equal(calls.length, 2, 'an invalid body never reaches the service');
  });

  it('GET /v1/seats pages through seats, coercing the query', async (t) => {
    const calls = await respond(t, LicensingRpc.listSeats.subject, () => ({ ok: true, data: { items: [seat('dev-1'), seat('dev-2')], total: 7 } }));
    const res = await api().get('/v1/seats?limit=2&offset=4&includeReleased=true').set('authorization', auth).expect(200);
    assert.deepEqual(res.body, { items: [seat('dev-1'), seat('dev-2')], total: 7 });
    assert.deepEqual(calls, [{ limit: 2, offset: 4, includeReleased: true }]);
    const bad = await api().get('/v1/seats?limit=0').set('authorization', auth).expect(400);
    assert.match(bad.body.message, /limit/);
  });

  it('answers 503 when the licensing service does not respond', async () => {
    const res = await api().get('/v1/seats').set('authorization', auth).expect(503);
    assert.equal(res.body.code, ErrorCode.Unavailable);
  });

  it('documents the three routes with their schemas', async () => {
    const doc = (await api().get('/docs-json').expect(200)).body as {
      paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema?: unknown }> }>; requestBody?: { content: Record<string, { schema?: unknown }> } }>>;
    };
    assert.deepEqual(doc.paths['/v1/license']?.get?.responses['200']?.content?.['application/json']?.schema, { $ref: '#/components/schemas/License' });
    assert.deepEqual(doc.paths['/v1/license']?.put?.requestBody?.content['application/json']?.schema, { $ref: '#/components/schemas/InstallLicense' });
    assert.ok(doc.paths['/v1/license']?.put?.responses['422'], 'a refused key is documented');
    assert.deepEqual(doc.paths['/v1/seats']?.get?.responses['200']?.content?.['application/json']?.schema, { $ref: '#/components/schemas/SeatList' });
  });
});
