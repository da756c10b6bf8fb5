// The gateway's topology routes against a real NATS server, with the topology service stood in for
// by NATS responders registered here: bodies in JSON and YAML, scopes, errors, audit, the API document.
import { after, before, describe, it, TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { INestApplication } from '@nestjs/common';
import { connect, NatsConnection } from 'nats';
import { startTestGateway } from './support/test-gateway';
import { standIn } from './support/rpc-stand-in';
import request from 'supertest';
import { AuditLogPage, ErrorCode, RpcReply, TopologyRpc, TopologyVersion } from '@fleetcast/contracts';
import { startNatsServer, stopAll, waitFor } from '@fleetcast/testing';
import { hashedEntry, parseApiTokens } from '../src/auth/api-tokens';

const TOKENS = { root: 'topology-root-token-0123456789', ops: 'topology-ops-token-0123456789', reader: 'topology-reader-token-0123456789' };
const bearer = (who: keyof typeof TOKENS) => `Bearer ${TOKENS[who]}`;

const YAML_DOCUMENT = `# offices of the example fleet
schemaVersion: 1
origin:
  addresses: [10.0.0.10]
offices:
  - id: hq
    name: Headquarters
    subnets: [10.0.0.0/16]
  - id: paris
    name: Paris
    type: wifi
    parent: hq
    subnets: [10.1.0.0/24]
    wan: { bandwidthKbps: 20000 }
`;

const stored: TopologyVersion = {
  version: 3,
  author: 'root',
  comment: 'paris added',
  createdAt: '2026-01-01T00:00:00.000Z',
  summary: {
    officesAdded: 1, officesRemoved: 0, officesChanged: 0, subnetsAdded: 1, subnetsRemoved: 0,
    addedOfficeIds: ['paris'], removedOfficeIds: [], changedOfficeIds: [], originChanged: false, defaultOfficeChanged: false,
    text: '1 office added (paris); 1 subnet added',
  },
};

describe('gateway: topology routes', () => {
  let nc: NatsConnection;
  let app: INestApplication | undefined;
  let baseUrl: string;

  /** A stand-in for the service that serves `subject`: the requests it got. */
  const respond = async (t: TestContext, subject: string, answer: (req: Record<string, unknown>) => RpcReply) => (await standIn(nc, t, subject, answer)).calls;

  before(async () => {
    const nats = await startNatsServer();
    nc = await connect(nats.adminConnectOptions());
    const entries = [hashedEntry('root', 'admin', TOKENS.root), hashedEntry('ops', 'operator', TOKENS.ops), hashedEntry('reader', 'read-only', TOKENS.reader)];
    ({ app, baseUrl } = await startTestGateway(nats, { apiTokens: entries.join(','), logName: 'gateway-topology-int-test' }));
  });

  after(async () => {
    await app?.close();
    await nc?.close();
    await stopAll();
  });

  const api = () => request(baseUrl);

  it('uploads YAML and JSON by Content-Type, with the token name as author and the query as comment and base version', async (t) => {
    const calls = await respond(t, TopologyRpc.upload.subject, () => ({ ok: true, data: stored }));
    const res = await api().post('/v1/topology?comment=paris%20added&baseVersion=2').set('authorization', bearer('root')).set('content-type', 'application/yaml').send(YAML_DOCUMENT).expect(201);
    assert.deepEqual(res.body, stored);
    const json = JSON.stringify({ schemaVersion: 1, origin: { addresses: ['10.0.0.10'] }, offices: [{ id: 'hq', name: 'HQ' }] });
    await api().post('/v1/topology').set('authorization', bearer('root')).set('content-type', 'application/json; charset=utf-8').send(json).expect(201);
    assert.equal(calls.length, 2);
    assert.deepEqual(calls[0], {
      document: {
        schemaVersion: 1,
        origin: { addresses: ['10.0.0.10'] },
        offices: [
          { id: 'hq', name: 'Headquarters', subnets: ['10.0.0.0/16'] },
          { id: 'paris', name: 'Paris', type: 'wifi', parent: 'hq', subnets: ['10.1.0.0/24'], wan: { bandwidthKbps: 20000 } },
        ],
      },
      author: 'root',
      comment: 'paris added',
      baseVersion: 2,
    });
    assert.deepEqual(calls[1], { document: JSON.parse(json), author: 'root' });
  });

  it('refuses a body it cannot read, saying where, before the service is asked', async (t) => {
    const calls = await respond(t, TopologyRpc.upload.subject, () => ({ ok: true, data: stored }));
    const yaml = await api().post('/v1/topology').set('authorization', bearer('root')).set('content-type', 'text/yaml').send('offices:\n  - id: hq\n   name: bad indent\n').expect(400);
    assert.equal(yaml.body.code, ErrorCode.ContractInvalid);
    assert.match(yaml.body.message, /not valid YAML: line 3, column \d+/);
    const json = await api().post('/v1/topology').set('authorization', bearer('root')).set('content-type', 'application/json').send('{"schemaVersion": 1,').expect(400);
    assert.match(json.body.message, /not valid JSON/);
    const other = await api().post('/v1/topology').set('authorization', bearer('root')).set('content-type', 'text/csv').send('a,b').expect(400);
    assert.match(other.body.message, /uploaded as application\/json or application\/yaml .* not text\/csv/);
    const empty = await api().post('/v1/topology').set('authorization', bearer('root')).set('content-type', 'application/yaml').send('').expect(400);
    assert.match(empty.body.message, /request body is missing/);
    const bomb = `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n`;
    const aliases = await api().post('/v1/topology').set('authorization', bearer('root')).set('content-type', 'application/yaml').send(bomb).expect(400);
    assert.match(aliases.body.message, /not usable YAML/);
    assert.equal(calls.length, 0);
  });

  it('maps a refused document to 422 with every problem, and a stale base version to 409', async (t) => {
    const problems = [
      { path: '/offices/1/subnets/0', code: 'overlapping-subnets', message: '10.0.9.0/24 overlaps 10.0.0.0/16 (of office "hq", /offices/0/subnets/0)' },
      { path: '/offices/2/parent', code: 'unknown-parent', message: 'parent "marseille" of office "lyon" is not an office of this document' },
    ];
    await respond(t, TopologyRpc.upload.subject, (req) =>
      req.baseVersion === 1
        ? { ok: false, error: { code: ErrorCode.TopologyVersionConflict, message: 'the change was made against version 1, but the current version is 3' } }
        : { ok: false, error: { code: ErrorCode.TopologyInvalid, message: 'topology refused, 2 problems', details: problems } },
    );
    const invalid = await api().post('/v1/topology').set('authorization', bearer('root')).set('content-type', 'application/yaml').send(YAML_DOCUMENT).expect(422);
    assert.deepEqual(invalid.body, { code: ErrorCode.TopologyInvalid, message: 'topology refused, 2 problems', details: problems });
    const conflict = await api().post('/v1/topology?baseVersion=1').set('authorization', bearer('root')).set('content-type', 'application/yaml').send(YAML_DOCUMENT).expect(409);
    assert.equal(conflict.body.code, ErrorCode.TopologyVersionConflict);
    const badQuery = await api().post('/v1/topology?baseVersion=-1').set('authorization', bearer('root')).set('content-type', 'application/yaml').send(YAML_DOCUMENT).expect(400);
    assert.match(badQuery.body.message, /baseVersion/);
  });

  it('lets only an admin change the topology; a read-only token reads it', async (t) => {
    const calls = await respond(t, TopologyRpc.upload.subject, () => ({ ok: true, data: stored }));
    for (const who of ['reader', 'ops'] as const) {
      const res = await api().post('/v1/topology').set('authorization', bearer(who)).set('content-type', 'application/yaml').send(YAML_DOCUMENT).expect(403);
      assert.match(res.body.message, /needs an API token with the admin scope/);
      await api().post('/v1/topology/draft').set('authorization', bearer(who)).send({ originAddresses: ['10.0.0.10'] }).expect(403);
    }
    await api().post('/v1/topology').set('content-type', 'application/yaml').send(YAML_DOCUMENT).expect(401);
    assert.equal(calls.length, 0);
    const current = await respond(t, TopologyRpc.get.subject, () => ({ ok: false, error: { code: ErrorCode.NoTopology, message: 'no topology has been uploaded yet' } }));
    const none = await api().get('/v1/topology').set('authorization', bearer('reader')).expect(404);
    assert.equal(none.body.code, ErrorCode.NoTopology);
    assert.deepEqual(current, [{}]);
  });

  it('passes reads and drafts on with their queries', async (t) => {
    const versions = await respond(t, TopologyRpc.listVersions.subject, () => ({ ok: true, data: { items: [stored], total: 1 } }));
    const unplaced = await respond(t, TopologyRpc.listUnplaced.subject, () => ({ ok: true, data: { items: [], total: 0 } }));
    const device = await respond(t, TopologyRpc.deviceOffice.subject, () => ({ ok: false, error: { code: ErrorCode.TopologyDeviceUnknown, message: 'no scan of device dev-9' } }));
    const get = await respond(t, TopologyRpc.get.subject, () => ({ ok: false, error: { code: ErrorCode.TopologyVersionNotFound, message: 'topology version 7 does not exist' } }));
    const draft = await respond(t, TopologyRpc.generateDraft.subject, () => ({
      ok: true,
      data: { document: { schemaVersion: 1, origin: { addresses: ['10.0.0.10'] }, defaultOffice: null, offices: [{ id: 'central', name: 'C', type: 'default', parent: null, subnets: [], wan: null }] }, notes: [], problems: [], devicesSeen: 0, devicesWithoutAddress: 0 },
    }));
    assert.deepEqual((await api().get('/v1/topology/versions?limit=5').set('authorization', bearer('reader')).expect(200)).body.items, [stored]);
    await api().get('/v1/topology/unplaced-devices?offset=10').set('authorization', bearer('reader')).expect(200);
    assert.equal((await api().get('/v1/topology/devices/dev-9').set('authorization', bearer('reader')).expect(404)).body.code, ErrorCode.TopologyDeviceUnknown);
    await api().get('/v1/topology/devices/bad%20id').set('authorization', bearer('reader')).expect(400);
    await api().get('/v1/topology?version=7').set('authorization', bearer('reader')).expect(404);
    const made = await api().post('/v1/topology/draft').set('authorization', bearer('root')).send({ originAddresses: ['10.0.0.10'] }).expect(200);
    assert.equal(made.body.document.offices[0].id, 'central');
    assert.deepEqual(versions, [{ limit: 5, offset: 0 }]);
    assert.deepEqual(unplaced, [{ limit: 100, offset: 10 }]);
    assert.deepEqual(device, [{ deviceId: 'dev-9' }]);
    assert.deepEqual(get, [{ version: 7 }]);
    assert.deepEqual(draft, [{ originAddresses: ['10.0.0.10'], branchBandwidthKbps: 10000 }]);
  });

  it('records every upload in the audit log, refused ones included', async (t) => {
    await respond(t, TopologyRpc.upload.subject, () => ({ ok: true, data: stored }));
    await api().post('/v1/topology?comment=audit').set('authorization', bearer('root')).set('content-type', 'application/yaml').send(YAML_DOCUMENT).expect(201);
    await waitFor(
      async () => {
        const page = (await api().get('/v1/audit-log?limit=1000').set('authorization', bearer('root')).expect(200)).body as AuditLogPage;
        const uploads = page.items.filter((r) => r.route === '/v1/topology' && r.method === 'POST');
        return uploads.some((r) => r.actor.name === 'root' && r.status === 201) && uploads.some((r) => r.actor.name === 'ops' && r.status === 403) && uploads.some((r) => r.status === 400);
      },
      { description: 'audit records of the uploads' },
    );
  });

  it('publishes the routes, their scopes and the document schema in the API document', async () => {
    const doc = (await api().get('/docs-json').expect(200)).body as {
      paths: Record<string, Record<string, { 'x-required-scope'?: string; requestBody?: { content: Record<string, { schema?: unknown }> }; responses: Record<string, unknown> }>>;
      components: { schemas: Record<string, { properties?: Record<string, unknown>; required?: string[] }> };
    };
    const upload = doc.paths['/v1/topology']!['post']!;
    assert.equal(upload['x-required-scope'], 'admin');
    assert.deepEqual(Object.keys(upload.requestBody!.content).sort(), ['application/json', 'application/x-yaml', 'application/yaml', 'text/x-yaml', 'text/yaml']);
    assert.deepEqual(upload.requestBody!.content['application/yaml']!.schema, { $ref: '#/components/schemas/TopologyDocumentInput' });
    assert.ok(upload.responses['422']);
    assert.equal(doc.paths['/v1/topology']!['get']!['x-required-scope'], 'read-only');
    for (const path of ['/v1/topology/versions', '/v1/topology/unplaced-devices', '/v1/topology/devices/{id}', '/v1/topology/draft', '/v1/topology/validate']) assert.ok(doc.paths[path], path);
    const input = doc.components.schemas['TopologyDocumentInput']!;
    assert.deepEqual(input.required, ['schemaVersion', 'origin', 'offices']);
    assert.ok(doc.components.schemas['TopologyDocument']!.properties!['defaultOffice']);
  });
});
