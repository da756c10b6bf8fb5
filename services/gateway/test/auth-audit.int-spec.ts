// API token scopes and the audit log: a gateway process configured as in production (hashed token
// entries made by the shipped command), a real NATS server in operator mode with JetStream, and
// the services behind the gateway stood in for by NATS responders registered here.
import { after, before, describe, it, TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { connect, NatsConnection } from 'nats';
import { standIn } from './support/rpc-stand-in';
import request from 'supertest';
import { AuditLogEntry, AuditLogPage, DEFAULT_AGENT_SETTINGS, EnrolledDevice, EnrollmentRpc, ErrorCode, LicensingRpc, RpcReply, Streams, TasksRpc } from '@fleetcast/contracts';
import { freePort, NodeProcess, spawnNodeProcess, startNatsServer, stopAll, waitFor } from '@fleetcast/testing';

/** The compiled entry points, next to this compiled test. */
const mainScript = join(__dirname, '..', 'src', 'main.js');
const tokenCommand = join(__dirname, '..', 'src', 'api-token.js');
/** A token in clear, the earlier form: accepted as admin, with a warning. */
const PLAIN_TOKEN = 'plain-dev-token-0123456789';
/** The gateway's own token for the origin (ORIGIN_API_TOKEN). */
const ORIGIN_TOKEN = 'origin-token-of-the-gateway';

/** The content origin, stood in for: records each upload's headers and answers with a descriptor. */
function startStandInOrigin(): Promise<{ server: Server; url: string; uploads: IncomingHttpHeaders[] }> {
  const uploads: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    uploads.push(req.headers);
    const hash = createHash('sha256');
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      hash.update(chunk);
    });
    req.on('end', () => {
      const contentId = hash.digest('hex');
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ contentId, size, blockSize: 1024 * 1024, blockHashes: contentId }));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, uploads })));
}

interface Issued {
  token: string;
  entry: string;
}

/** Makes a token with the command operators use, and reads its two lines. */
function issue(name: string, scope: string): Issued {
  const out = execFileSync(process.execPath, [tokenCommand, 'new', '--name', name, '--scope', scope], { encoding: 'utf8' });
  const token = /^API_TOKEN=(\S+)$/m.exec(out)?.[1];
  const entry = /^API_TOKENS_ENTRY=(\S+)$/m.exec(out)?.[1];
  assert.ok(token && entry, `api-token new printed:\n${out}`);
  return { token, entry };
}

const ok = (data: unknown): RpcReply => ({ ok: true, data });

const enrolledDevice = (deviceId: string): EnrolledDevice => ({
  deviceId,
  hostname: 'branch-7',
  platform: 'linux',
  agentVersion: '0.1.0',
  group: null,
  state: 'retired',
  publicKey: `U${'A'.repeat(55)}`,
  enrolledAt: '2026-01-01T00:00:00.000Z',
  retiredAt: '2026-03-01T00:00:00.000Z',
});

describe('gateway: API token scopes and the audit log', () => {
  let nc: NatsConnection;
  let gateway: NodeProcess;
  let baseUrl: string;
  let origin: Awaited<ReturnType<typeof startStandInOrigin>>;
  const reader = issue('reader', 'read-only');
  const ops = issue('ops', 'operator');
  const root = issue('root', 'admin');
  const bearer = (who: Issued | string) => `Bearer ${typeof who === 'string' ? who : who.token}`;
  const startedAt = new Date(Date.now() - 1000).toISOString();

  /** A responder standing in for the service that owns a subject; stopped after the test. */
  /** A stand-in for the service that serves `subject`: the requests it got. */
  const respond = async (t: TestContext, subject: string, answer: (req: Record<string, unknown>) => RpcReply) => (await standIn(nc, t, subject, answer)).calls;

  const api = () => request(baseUrl);

  /** The audit log as an admin reads it, every page. */
  async function readLog(query = `since=${encodeURIComponent(startedAt)}`): Promise<AuditLogEntry[]> {
    const items: AuditLogEntry[] = [];
    let page = (await api().get(`/v1/audit-log?${query}&limit=1000`).set('authorization', bearer(root)).expect(200)).body as AuditLogPage;
    items.push(...page.items);
    while (page.nextAfter !== null) {
      page = (await api().get(`/v1/audit-log?after=${page.nextAfter}&limit=1000`).set('authorization', bearer(root)).expect(200)).body as AuditLogPage;
      items.push(...page.items);
    }
    return items;
  }

  /** Waits until the record of each request ID is in the log (records are stored after the answer). */
  async function recordsOf(...requestIds: string[]): Promise<AuditLogEntry[]> {
    return waitFor(
      async () => {
        const log = await readLog();
        const found = requestIds.map((id) => log.find((entry) => entry.requestId === id));
        return found.every((entry) => entry !== undefined) ? (found as AuditLogEntry[]) : undefined;
      },
      { timeoutMs: 10_000, description: `audit records of ${requestIds.join(', ')}` },
    );
  }

  before(async () => {
    const nats = await startNatsServer();
    nc = await connect(nats.adminConnectOptions());
    const port = await freePort();
    origin = await startStandInOrigin();
    gateway = await spawnNodeProcess(mainScript, {
      name: 'gateway',
      outputLines: 100_000,
      env: {
        NATS_URL: nats.url,
        NATS_CREDS_FILE: nats.trust!.credsFile('gateway'),
        HTTP_HOST: '127.0.0.1',
        HTTP_PORT: String(port),
        API_TOKENS: [reader.entry, ops.entry, root.entry, PLAIN_TOKEN].join(','),
        ORIGIN_URL: origin.url,
        ORIGIN_API_TOKEN: ORIGIN_TOKEN,
        // Everything the gateway logs, so that a secret in any line would be seen.
        LOG_LEVEL: 'trace',
      },
    });
    baseUrl = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${baseUrl}/readyz`)).ok, { description: `the gateway to be ready\n${gateway.describe()}` });
  });

  after(async () => {
    await gateway?.stop();
    origin?.server.closeAllConnections();
    origin?.server.close();
    await nc?.close();
    await stopAll();
  });

  it('creates the audit stream at start, and warns of the token in clear by name only', async () => {
    const info = await (await nc.jetstreamManager()).streams.info(Streams.auditLog.name);
    assert.equal(info.config.max_age, Streams.auditLog.maxAgeSeconds * 1e9);
    assert.equal(info.config.max_msgs_per_subject, Streams.auditLog.maxMsgsPerSubject);
    const warning = gateway.lines().find((line) => line.includes('stored in clear'));
    assert.ok(warning, gateway.describe());
    assert.match(warning, /plaintext-4/);
    assert.ok(!warning.includes(PLAIN_TOKEN));
  });

  it('lets a read-only token read, and refuses it a change with 403 AUTH.FORBIDDEN naming the scope needed', async (t) => {
    await respond(t, TasksRpc.listPackages.subject, () => ok({ items: [], total: 0 }));
    const create = await respond(t, TasksRpc.createPackage.subject, () => ok({}));
    await api().get('/v1/packages').set('authorization', bearer(reader)).expect(200);
    const res = await api()
      .post('/v1/packages')
      .set('authorization', bearer(reader))
      .send({ name: 'Editor', version: '1', platform: 'linux', installCommand: '/bin/true' })
      .expect(403);
    assert.equal(res.body.code, ErrorCode.Forbidden);
    assert.equal(res.body.message, 'POST /v1/packages needs an API token with the operator scope; "reader" has read-only');
    assert.equal(res.headers['www-authenticate'], 'Bearer realm="fleetcast", error="insufficient_scope", scope="operator"');
    assert.equal(create.length, 0, 'the tasks service is never asked');
  });

  it('lets an operator make changes, but not install a license, retire a device or read the audit log', async (t) => {
    const install = await respond(t, LicensingRpc.installLicense.subject, () => ok({}));
    const retire = await respond(t, EnrollmentRpc.retire.subject, () => ok({}));
    const created = await respond(t, TasksRpc.createProfile.subject, (req) => ok({ ...DEFAULT_AGENT_SETTINGS, id: 'prof-1', isDefault: false, updatedAt: new Date().toISOString(), ...req }));
    await api().post('/v1/profiles').set('authorization', bearer(ops)).send({ name: 'Branch offices' }).expect(201);
    assert.equal(created.length, 1);
    for (const [method, path, body] of [
      ['put', '/v1/license', { key: 'FCL1.x.y' }],
      ['post', '/v1/devices/dev-1/retire', undefined],
      ['get', '/v1/audit-log', undefined],
    ] as const) {
      const call = api()[method](path).set('authorization', bearer(ops));
      const res = await (body ? call.send(body) : call).expect(403);
      assert.equal(res.body.code, ErrorCode.Forbidden, path);
      assert.match(res.body.message, /needs an API token with the admin scope; "ops" has operator$/, path);
    }
    assert.equal(install.length + retire.length, 0);
  });

  it('lets an admin, and the token in clear, read the audit log; its query is checked', async () => {
    for (const who of [root, PLAIN_TOKEN]) {
      const res = await api().get('/v1/audit-log').set('authorization', bearer(who)).expect(200);
      assert.ok(Array.isArray(res.body.items));
    }
    await api().get('/v1/audit-log').expect(401);
    for (const query of ['since=yesterday', 'limit=0', 'limit=5000', 'actor=a.b', 'after=-1', `since=${encodeURIComponent(startedAt)}&after=3`]) {
      const res = await api().get(`/v1/audit-log?${query}`).set('authorization', bearer(root)).expect(400);
      assert.equal(res.body.code, ErrorCode.ContractInvalid, query);
    }
  });

  it('records changes accepted and refused: who, the route, the IDs, the status and the code', async (t) => {
    await respond(t, TasksRpc.createPackage.subject, (req) =>
      ok({ id: 'pkg-audit-1', status: 'awaiting-content', contentId: null, size: null, createdAt: new Date().toISOString(), installArgs: [], successExitCodes: [0], timeoutSeconds: 3600, ...req }),
    );
    await respond(t, TasksRpc.updateProfile.subject, () => ({ ok: false, error: { code: ErrorCode.ProfileNotFound, message: 'no profile prof-404' } }));
    await respond(t, EnrollmentRpc.retire.subject, (req) => ok(enrolledDevice(String(req.deviceId))));
    await respond(t, EnrollmentRpc.enroll.subject, (req) => ok({ deviceId: req.deviceId, userJwt: 'jwt-of-the-device', natsUrls: [], controlPlaneKeys: [{ keyId: 'k', publicKeyDer: 'x' }], group: null }));

    const createdPackage = await api()
      .post('/v1/packages')
      .set('authorization', bearer(ops))
      .send({ name: 'Editor', version: '1', platform: 'linux', installCommand: '/bin/true' })
      .expect(201);
    const refusedTask = await api().post('/v1/tasks').set('authorization', bearer(reader)).send({ packageId: 'pkg-audit-1', action: 'install', targets: { deviceIds: ['d1'] } }).expect(403);
    const refusedUpload = await api().put('/v1/packages/pkg-audit-1/content').set('authorization', bearer(reader)).send(Buffer.from('bytes')).expect(403);
    const missingProfile = await api().patch('/v1/profiles/prof-404').set('authorization', bearer(ops)).send({ name: 'Renamed' }).expect(404);
    const anonymous = await api().post('/v1/packages').send({}).expect(401);
    const wrongToken = await api().post('/v1/packages').set('authorization', 'Bearer fct_not-a-token').send({}).expect(401);
    const retired = await api().post('/v1/devices/dev-9/retire').set('authorization', bearer(root)).expect(200);
    const enrolled = await api()
      .post('/v1/enroll')
      .send({ token: 'enroll-secret', deviceId: 'dev-new', publicKey: `U${'A'.repeat(55)}`, hostname: 'h', platform: 'linux', agentVersion: '0.1.0' })
      .expect(201);
    const noRoute = await api().post('/v1/nowhere/7').set('authorization', bearer(ops)).expect(404);
    const read = await api().get('/v1/packages/pkg-audit-1').set('authorization', bearer(reader));

    const ids = [createdPackage, refusedTask, refusedUpload, missingProfile, anonymous, wrongToken, retired, enrolled, noRoute].map((res) => {
      const id = res.headers['x-request-id'];
      assert.match(id ?? '', /^[0-9a-f-]{36}$/);
      return id!;
    });
    const records = await recordsOf(...ids);
    const pick = (entry: AuditLogEntry) => ({
      actor: entry.actor,
      method: entry.method,
      route: entry.route,
      path: entry.path,
      params: entry.params,
      resourceId: entry.resourceId,
      status: entry.status,
      outcome: entry.outcome,
      errorCode: entry.errorCode,
    });
    assert.deepEqual(records.map(pick), [
      { actor: { name: 'ops', scope: 'operator' }, method: 'POST', route: '/v1/packages', path: '/v1/packages', params: {}, resourceId: 'pkg-audit-1', status: 201, outcome: 'accepted', errorCode: null },
      { actor: { name: 'reader', scope: 'read-only' }, method: 'POST', route: '/v1/tasks', path: '/v1/tasks', params: {}, resourceId: null, status: 403, outcome: 'refused', errorCode: ErrorCode.Forbidden },
      {
        actor: { name: 'reader', scope: 'read-only' },
        method: 'PUT',
        route: '/v1/packages/:id/content',
        path: '/v1/packages/pkg-audit-1/content',
        params: { id: 'pkg-audit-1' },
        resourceId: null,
        status: 403,
        outcome: 'refused',
        errorCode: ErrorCode.Forbidden,
      },
      {
        actor: { name: 'ops', scope: 'operator' },
        method: 'PATCH',
        route: '/v1/profiles/:id',
        path: '/v1/profiles/prof-404',
        params: { id: 'prof-404' },
        resourceId: null,
        status: 404,
        outcome: 'refused',
        errorCode: ErrorCode.ProfileNotFound,
      },
      { actor: { name: 'anonymous', scope: null }, method: 'POST', route: '/v1/packages', path: '/v1/packages', params: {}, resourceId: null, status: 401, outcome: 'refused', errorCode: ErrorCode.Unauthorized },
      { actor: { name: 'anonymous', scope: null }, method: 'POST', route: '/v1/packages', path: '/v1/packages', params: {}, resourceId: null, status: 401, outcome: 'refused', errorCode: ErrorCode.Unauthorized },
      {
        actor: { name: 'root', scope: 'admin' },
        method: 'POST',
        route: '/v1/devices/:id/retire',
        path: '/v1/devices/dev-9/retire',
        params: { id: 'dev-9' },
        resourceId: 'dev-9',
        status: 200,
        outcome: 'accepted',
        errorCode: null,
      },
      { actor: { name: 'anonymous', scope: null }, method: 'POST', route: '/v1/enroll', path: '/v1/enroll', params: {}, resourceId: 'dev-new', status: 201, outcome: 'accepted', errorCode: null },
      { actor: { name: 'ops', scope: 'operator' }, method: 'POST', route: null, path: '/v1/nowhere/7', params: {}, resourceId: null, status: 404, outcome: 'refused', errorCode: ErrorCode.NotFound },
    ]);
    for (const record of records) {
      assert.ok(Date.parse(record.occurredAt) >= Date.parse(startedAt), 'when');
      assert.equal(record.clientAddress, '127.0.0.1');
      assert.ok(record.seq > 0);
    }
    // Reads are not recorded.
    assert.ok(!(await readLog()).some((entry) => entry.requestId === read.headers['x-request-id']));
  });

  it("reads one actor's records, and pages through the log oldest first", async () => {
    const all = await readLog();
    assert.ok(all.length >= 5, `${all.length} records`);
    const seqs = all.map((entry) => entry.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'oldest first');
    const onlyOps = await readLog(`since=${encodeURIComponent(startedAt)}&actor=ops`);
    assert.deepEqual(onlyOps.map((e) => e.seq), all.filter((e) => e.actor.name === 'ops').map((e) => e.seq));
    const anonymous = await readLog(`since=${encodeURIComponent(startedAt)}&actor=anonymous`);
    assert.ok(anonymous.length >= 3 && anonymous.every((e) => e.actor.name === 'anonymous'));
    // Two at a time, following nextAfter to the end.
    const paged: number[] = [];
    let after = 0;
    for (;;) {
      const page = (await api().get(`/v1/audit-log?after=${after}&limit=2`).set('authorization', bearer(root)).expect(200)).body as AuditLogPage;
      assert.ok(page.items.length <= 2);
      paged.push(...page.items.map((e) => e.seq));
      if (page.nextAfter === null) break;
      assert.equal(page.nextAfter, page.items.at(-1)!.seq);
      after = page.nextAfter;
    }
    assert.deepEqual(paged.filter((seq) => seqs.includes(seq)), seqs);
    const future = (await api().get(`/v1/audit-log?since=${encodeURIComponent(new Date(Date.now() + 3600_000).toISOString())}`).set('authorization', bearer(root)).expect(200)).body;
    assert.deepEqual(future, { items: [], nextAfter: null });
  });

  it("shows the origin the gateway's own token on uploads, never the caller's, and records the upload", async (t) => {
    const pkg = { id: 'pkg-up', name: 'Editor', version: '1', platform: 'linux', installCommand: '/bin/true', installArgs: [], successExitCodes: [0], timeoutSeconds: 3600, createdAt: new Date().toISOString() };
    await respond(t, TasksRpc.getPackage.subject, () => ok({ ...pkg, status: 'awaiting-content', contentId: null, size: null }));
    await respond(t, TasksRpc.attachContent.subject, (req) => ok({ ...pkg, status: 'ready', contentId: req.contentId, size: 5 }));
    const res = await api().put('/v1/packages/pkg-up/content').set('authorization', bearer(ops)).set('content-type', 'application/octet-stream').send(Buffer.from('bytes')).expect(200);
    assert.equal(origin.uploads.length, 1);
    assert.equal(origin.uploads[0]!.authorization, `Bearer ${ORIGIN_TOKEN}`);
    const [record] = await recordsOf(res.headers['x-request-id']!);
    assert.deepEqual(
      { actor: record!.actor.name, route: record!.route, params: record!.params, resourceId: record!.resourceId, status: record!.status },
      { actor: 'ops', route: '/v1/packages/:id/content', params: { id: 'pkg-up' }, resourceId: 'pkg-up', status: 200 },
    );
  });

  it('never lets a token secret into the audit log or the logs', async () => {
    const stored = JSON.stringify(await readLog());
    const logs = gateway.output();
    assert.ok(logs.length > 0);
    for (const secret of [reader.token, ops.token, root.token, PLAIN_TOKEN, ORIGIN_TOKEN, 'enroll-secret', 'jwt-of-the-device']) {
      assert.ok(!stored.includes(secret), `a secret in the audit log: ${secret.slice(0, 6)}...`);
      assert.ok(!logs.includes(secret), `a secret in the logs: ${secret.slice(0, 6)}...`);
    }
  });

  it('documents the scope of every route and its 403', async () => {
    const doc = (await api().get('/docs-json').expect(200)).body as {
      paths: Record<string, Record<string, { 'x-required-scope'?: string; responses: Record<string, unknown> }>>;
    };
    const table: Array<[string, string, string | undefined]> = [
      ['/v1/packages', 'get', 'read-only'],
      ['/v1/packages', 'post', 'operator'],
      ['/v1/packages/{id}/content', 'put', 'operator'],
      ['/v1/profiles/{id}', 'patch', 'operator'],
      ['/v1/enrollment-tokens', 'post', 'operator'],
      ['/v1/license', 'get', 'read-only'],
      ['/v1/license', 'put', 'admin'],
      ['/v1/devices/{id}/retire', 'post', 'admin'],
      ['/v1/audit-log', 'get', 'admin'],
      ['/v1/enroll', 'post', undefined],
    ];
    for (const [path, method, scope] of table) {
      const operation = doc.paths[path]?.[method];
      assert.ok(operation, `${method} ${path}`);
      assert.equal(operation['x-required-scope'], scope, `${method} ${path}`);
      assert.equal('403' in operation.responses, scope !== undefined && scope !== 'read-only', `${method} ${path} documents 403`);
    }
  });
});
