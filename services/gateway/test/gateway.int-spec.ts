// The gateway against a real NATS server, with the tasks and inventory services stood in for by
// NATS responders registered here, and the content origin by a small real HTTP server.
import { after, before, describe, it, TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, IncomingHttpHeaders, request as httpRequest, Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { INestApplication } from '@nestjs/common';
import { connect, NatsConnection } from 'nats';
import { standIn } from './support/rpc-stand-in';
import request from 'supertest';
import { z } from 'zod';
import { ErrorCode, Package, RpcContract, RpcReply, TasksRpc, InventoryRpc, Task, Profile } from '@fleetcast/contracts';
import { createLogger } from '@fleetcast/telemetry';
import { freePort, spawnNodeProcess, startNatsServer, stopAll, waitFor } from '@fleetcast/testing';
import { startGateway } from '../src/app.bootstrap';
import { parseApiTokens } from '../src/auth/api-tokens';
import { GatewayConfig } from '../src/config/gateway.config';

const TOKEN = 'int-test-token-1';
const OTHER_TOKEN = 'int-test-token-2';
const auth = `Bearer ${TOKEN}`;
const MiB = 1024 * 1024;
/** The compiled entry point, next to this compiled test. */
const mainScript = join(__dirname, '..', 'src', 'main.js');

/** A process's resident memory (`VmRSS`) or its peak so far (`VmHWM`), in KiB, from Linux's /proc. */
function residentKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]);
}

// ---- stand-ins ------------------------------------------------------------------------------

interface ReceivedUpload {
  headers: IncomingHttpHeaders;
  bytes: number;
  sha256?: string;
  /** The body in full, for small uploads only. */
  body?: Buffer;
  complete: boolean;
  closed: boolean;
}

/** A real HTTP server in the place of the content origin: hashes what it receives, keeps no more than asked. */
class StandInOrigin {
  readonly uploads: ReceivedUpload[] = [];
  mode: 'store' | 'reject-hash' = 'store';
  keepBodiesUpTo = 8 * MiB;
  readonly server: Server = createServer((req, res) => {
    if (req.method !== 'PUT' || req.url !== '/v1/content') {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ code: ErrorCode.NotFound, message: 'no route' }));
      return;
    }
    const upload: ReceivedUpload = { headers: req.headers, bytes: 0, complete: false, closed: false };
    this.uploads.push(upload);
    const hash = createHash('sha256');
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      upload.bytes += chunk.length;
      hash.update(chunk);
      if (upload.bytes <= this.keepBodiesUpTo) chunks.push(chunk);
    });
    req.on('close', () => {
      upload.closed = true;
    });
    req.on('end', () => {
      upload.complete = true;
      upload.sha256 = hash.digest('hex');
      if (upload.bytes <= this.keepBodiesUpTo) upload.body = Buffer.concat(chunks);
      if (this.mode === 'reject-hash') {
        res.writeHead(422, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: ErrorCode.HashMismatch, message: `declared SHA-256 does not match ${upload.sha256}; nothing was stored` }));
        return;
      }
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify(descriptorOf(upload)));
    });
  });

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** What the stand-in origin answers: a descriptor whose block hashes are distinctive enough to follow. */
function descriptorOf(upload: ReceivedUpload) {
  return {
    contentId: upload.sha256!,
    size: upload.bytes,
    blockSize: MiB,
    blockHashes: createHash('sha256').update(`blocks of ${upload.sha256}`).digest('base64'),
  };
}

interface Responder<T> {
  calls: T[];
  stop(): void;
}

let nc: NatsConnection;

/** A NATS responder for one contract, standing in for the service that owns it; stopped after the test. */
function respond(
  t: TestContext,
  contract: Pick<RpcContract<z.ZodTypeAny, z.ZodTypeAny>, 'subject'>,
  answer: (request: Record<string, unknown>) => RpcReply,
): Promise<Responder<Record<string, unknown>>> {
  return standIn(nc, t, contract.subject, answer);
}

const ok = (data: unknown): RpcReply => ({ ok: true, data });
const notFound = (code: string, message: string): RpcReply => ({ ok: false, error: { code, message } });

function pkg(id: string, overrides: Partial<Package> = {}): Package {
  return {
    id,
    name: 'Editor',
    version: '1.2.3',
    platform: 'linux',
    installCommand: '/usr/bin/install-editor',
    installArgs: ['--quiet'],
    successExitCodes: [0],
    timeoutSeconds: 600,
    status: 'awaiting-content',
    contentId: null,
    size: null,
    createdAt: '2026-01-01T00:00:00.000Z',
    ...overrides,
  };
}

/** tasks.getPackage over a fixed set of packages; any other ID is TASKS.PACKAGE_NOT_FOUND, as the tasks service answers. */
function packagesResponder(t: TestContext, ...known: Package[]) {
  return respond(t, TasksRpc.getPackage, (req) => {
    const found = known.find((p) => p.id === req.id);
    return found ? ok(found) : notFound(ErrorCode.PackageNotFound, `no package ${String(req.id)}`);
  });
}

function attachResponder(t: TestContext, base: Package) {
  return respond(t, TasksRpc.attachContent, (req) =>
    ok({ ...base, status: 'ready', contentId: req.contentId }),
  );
}

/** PUTs a stream with Node's own client (supertest would buffer it), returning status and parsed body. */
function putStream(
  baseUrl: string,
  path: string,
  headers: Record<string, string>,
  body: Readable,
): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${baseUrl}${path}`, { method: 'PUT', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> });
        } catch {
          reject(new Error(`not JSON (${res.statusCode}): ${text.slice(0, 200)}`));
        }
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    // A broken gateway must fail the test, not hang it until the runner gives up.
    req.setTimeout(30_000, () => req.destroy(new Error(`no answer from ${path} within 30 s`)));
    // Headers go out at once, not with the first chunk: a test may send no body at all.
    req.flushHeaders();
    body.pipe(req);
  });
}

// ---- the suite ------------------------------------------------------------------------------

describe('gateway', () => {
  const origin = new StandInOrigin();
  let app: INestApplication | undefined;
  let limitedApp: INestApplication | undefined;
  let baseUrl: string;
  let limitedUrl: string;
  let natsUrl: string;
  let natsCreds: string;
  let originUrl: string;
  const logger = createLogger('gateway-int-test', 'silent');

  const urlOf = (a: INestApplication) => `http://127.0.0.1:${(a.getHttpServer().address() as AddressInfo).port}`;

  before(async () => {
    const nats = await startNatsServer();
    natsUrl = nats.url;
    nc = await connect(nats.adminConnectOptions());
    natsCreds = nats.trust!.credsFile('gateway');
    originUrl = await origin.listen();
    const config: GatewayConfig = {
      natsUrl: nats.url,
      natsCredsFile: natsCreds,
      httpHost: '127.0.0.1',
      httpPort: 0,
      logLevel: 'silent',
      originUrl,
      // Tokens in clear (admin): the earlier form, still accepted; the scopes have their own suite (auth-audit).
      apiTokens: parseApiTokens(`${TOKEN},${OTHER_TOKEN}`).tokens,
      authDisabled: false,
      maxUploadBytes: 512 * MiB,
    };
    app = await startGateway(config, logger);
    baseUrl = urlOf(app);
    // A second gateway with a small limit, for the uploads that must be cut off.
    limitedApp = await startGateway({ ...config, maxUploadBytes: MiB }, logger);
    limitedUrl = urlOf(limitedApp);
  });

  after(async () => {
    await app?.close();
    await limitedApp?.close();
    await nc?.close();
    await origin.close();
    await stopAll();
  });

  const api = () => request(baseUrl);

  describe('authentication', () => {
    it('refuses a request without a token with 401 AUTH.UNAUTHORIZED', async () => {
      const res = await api().get('/v1/packages').expect(401);
      assert.equal(res.body.code, ErrorCode.Unauthorized);
      assert.match(res.body.message, /missing API token/);
      assert.match(res.headers['www-authenticate'] ?? '', /^Bearer/);
    });

    it('refuses a wrong token, and a right token in the wrong scheme', async () => {
      for (const header of ['Bearer not-the-token', `Basic ${TOKEN}`, `Bearer ${TOKEN}x`]) {
        const res = await api().get('/v1/packages').set('authorization', header).expect(401);
        assert.equal(res.body.code, ErrorCode.Unauthorized, header);
      }
    });

    it('accepts every configured token', async (t) => {
      const list = await respond(t, TasksRpc.listPackages, () => ok({ items: [], total: 0 }));
      await api().get('/v1/packages').set('authorization', auth).expect(200);
      await api().get('/v1/packages').set('authorization', `Bearer ${OTHER_TOKEN}`).expect(200);
      assert.equal(list.calls.length, 2);
    });

    it('leaves health, readiness, metrics and the API document open', async () => {
      await api().get('/healthz').expect(200);
      await api().get('/readyz').expect(200);
      await api().get('/metrics').expect(200);
      await api().get('/docs-json').expect(200);
    });
  });

  describe('validation', () => {
    it('answers a malformed package body with 400 naming each field, and calls no service', async (t) => {
      const create = await respond(t, TasksRpc.createPackage, () => ok(pkg('never')));
      const res = await api()
        .post('/v1/packages')
        .set('authorization', auth)
        .send({ name: 'Editor', platform: 'beos', installCommand: '', timeoutSeconds: 0 })
        .expect(400);
      assert.equal(res.body.code, ErrorCode.ContractInvalid);
      const paths = (res.body.details as Array<{ path: string }>).map((d) => d.path).sort();
      assert.deepEqual(paths, ['installCommand', 'platform', 'timeoutSeconds', 'version']);
      for (const field of paths) assert.match(res.body.message, new RegExp(`${field}: `));
      assert.equal(create.calls.length, 0);
    });

    it('answers a task body without targets with 400 naming targets', async () => {
      const res = await api().post('/v1/tasks').set('authorization', auth).send({ packageId: 'pkg-1', action: 'install' }).expect(400);
      assert.equal(res.body.code, ErrorCode.ContractInvalid);
      assert.match(res.body.message, /targets: Required/);
      assert.deepEqual(res.body.details, [{ path: 'targets', message: 'Required' }]);
      const empty = await api().post('/v1/tasks').set('authorization', auth).send({ packageId: 'pkg-1', action: 'install', targets: {} }).expect(400);
      assert.match(empty.body.message, /targets: give deviceIds or query/);
    });

    it('answers a bad limit with 400 naming limit, and coerces good query numbers and booleans', async (t) => {
      for (const limit of ['0', 'abc', '5000', '1.5']) {
        const res = await api().get(`/v1/packages?limit=${limit}`).set('authorization', auth).expect(400);
        assert.equal(res.body.code, ErrorCode.ContractInvalid, limit);
        assert.deepEqual(res.body.details.map((d: { path: string }) => d.path), ['limit'], limit);
      }
      const devices = await respond(t, InventoryRpc.listDevices, () => ok({ items: [], total: 0 }));
      await api().get('/v1/devices?limit=5&offset=10&stale=true&platform=linux&subnet=10.1.2.0/24').set('authorization', auth).expect(200);
      await api().get('/v1/devices?versionState=unsupported-version').set('authorization', auth).expect(200);
      assert.deepEqual(devices.calls, [
        { limit: 5, offset: 10, stale: true, platform: 'linux', subnet: '10.1.2.0/24' },
        { limit: 100, offset: 0, versionState: 'unsupported-version' },
      ]);
      const bad = await api().get('/v1/devices?stale=maybe').set('authorization', auth).expect(400);
      assert.deepEqual(bad.body.details.map((d: { path: string }) => d.path), ['stale']);
      const badState = await api().get('/v1/devices?versionState=outdated').set('authorization', auth).expect(400);
      assert.deepEqual(badState.body.details.map((d: { path: string }) => d.path), ['versionState']);
    });

    it('answers malformed JSON with 400 CONTRACT.INVALID that says so', async () => {
      const res = await api().post('/v1/packages').set('authorization', auth).set('content-type', 'application/json').send('{"name": "Editor",').expect(400);
      assert.equal(res.body.code, ErrorCode.ContractInvalid);
      assert.match(res.body.message, /not valid JSON/);
    });

    it('answers a JSON body over the limit with 413', async () => {
      const huge = JSON.stringify({ name: 'x'.repeat(2 * MiB) });
      const res = await api().post('/v1/packages').set('authorization', auth).set('content-type', 'application/json').send(huge).expect(413);
      assert.match(res.body.message, /exceeds/);
    });

    it('answers an ID that cannot exist with 400 naming id', async () => {
      const res = await api().get('/v1/packages/a.b').set('authorization', auth).expect(400);
      assert.deepEqual(res.body.details.map((d: { path: string }) => d.path), ['id']);
    });
  });

  describe('calls to the services', () => {
    it('creates a package: 201 with what the tasks service answered, defaults applied on the way', async (t) => {
      const create = await respond(t, TasksRpc.createPackage, (req) => ok(pkg('pkg-new', req as Partial<Package>)));
      const res = await api()
        .post('/v1/packages')
        .set('authorization', auth)
        .send({ name: 'Editor', version: '2.0', platform: 'windows', installCommand: 'setup.exe' })
        .expect(201);
      assert.equal(res.body.id, 'pkg-new');
      assert.deepEqual(create.calls, [
        { name: 'Editor', version: '2.0', platform: 'windows', installCommand: 'setup.exe', installArgs: [], successExitCodes: [0], timeoutSeconds: 3600, confidential: false },
      ]);
    });

    it('answers an unknown package with 404 and the service code', async (t) => {
      await packagesResponder(t, pkg('pkg-1'));
      const res = await api().get('/v1/packages/pkg-unknown').set('authorization', auth).expect(404);
      assert.equal(res.body.code, ErrorCode.PackageNotFound);
      assert.match(res.body.message, /pkg-unknown/);
      await api().get('/v1/packages/pkg-1').set('authorization', auth).expect(200);
    });

    it('answers 503 COMMON.UNAVAILABLE when no service responds', async () => {
      const res = await api().get('/v1/subnets').set('authorization', auth).expect(503);
      assert.equal(res.body.code, ErrorCode.Unavailable);
      assert.match(res.body.message, /inventory\.qry\.subnet\.list\.v1/);
    });

    it('creates a task and lists its devices by state with the ID from the path', async (t) => {
      const task: Task = {
        id: 'task-1',
        name: 'Editor to lab',
        packageId: 'pkg-1',
        action: 'install',
        status: 'active',
        profileId: null,
        startAt: '2026-01-01T00:00:00.000Z',
        createdAt: '2026-01-01T00:00:00.000Z',
        summary: { taskId: 'task-1', total: 0, counts: {} as Task['summary']['counts'], bytes: { origin: 0, parent: 0, multicast: 0, peer: 0 }, subnets: [] },
      };
      const create = await respond(t, TasksRpc.createTask, () => ok(task));
      const devices = await respond(t, TasksRpc.listTaskDevices, () => ok({ items: [], total: 0 }));
      const created = await api()
        .post('/v1/tasks')
        .set('authorization', auth)
        .send({ packageId: 'pkg-1', action: 'install', targets: { query: { platform: 'linux' } } })
        .expect(201);
      assert.equal(created.body.id, 'task-1');
      assert.deepEqual(create.calls[0]?.targets, { query: { platform: 'linux', includeStale: false } });
      await api().get('/v1/tasks/task-1/devices?state=failed&limit=10').set('authorization', auth).expect(200);
      assert.deepEqual(devices.calls, [{ id: 'task-1', state: 'failed', limit: 10, offset: 0 }]);
      const bad = await api().get('/v1/tasks/task-1/devices?state=exploded').set('authorization', auth).expect(400);
      assert.deepEqual(bad.body.details.map((d: { path: string }) => d.path), ['state']);
    });

    it('patches a profile with the ID from the path and the body as the patch', async (t) => {
      const profile: Profile = {
        id: 'prof-1',
        name: 'Slow links',
        isDefault: false,
        updatedAt: '2026-01-01T00:00:00.000Z',
        useMulticast: true,
        sessionStartDelaySeconds: 60,
        peerDownloadAllowed: true,
        lanRateLimitKbps: 512,
        cacheSizeLimitBytes: null,
      };
      const update = await respond(t, TasksRpc.updateProfile, () => ok(profile));
      await api().patch('/v1/profiles/prof-1').set('authorization', auth).send({ lanRateLimitKbps: 512 }).expect(200);
      assert.deepEqual(update.calls, [{ id: 'prof-1', patch: { lanRateLimitKbps: 512 } }]);
      const bad = await api().patch('/v1/profiles/prof-1').set('authorization', auth).send({ sessionStartDelaySeconds: -1 }).expect(400);
      assert.deepEqual(bad.body.details.map((d: { path: string }) => d.path), ['sessionStartDelaySeconds']);
    });

    it('answers the manifest of a package without content with 409, and asks for it by content ID otherwise', async (t) => {
      const contentId = 'a'.repeat(64);
      await packagesResponder(t, pkg('pkg-empty'), pkg('pkg-ready', { status: 'ready', contentId, size: 10 }));
      const manifests = await respond(t, TasksRpc.getManifest, (req) =>
        ok({ contentId: req.contentId, size: 10, blockSize: MiB, blockHashes: 'AA==', keyId: 'k1', signature: 'c2ln' }),
      );
      const empty = await api().get('/v1/packages/pkg-empty/manifest').set('authorization', auth).expect(409);
      assert.equal(empty.body.code, ErrorCode.PackageNotReady);
      const ready = await api().get('/v1/packages/pkg-ready/manifest').set('authorization', auth).expect(200);
      assert.equal(ready.body.keyId, 'k1');
      assert.deepEqual(manifests.calls, [{ contentId, fromBlock: 0 }]);
    });
  });

  describe('content upload', () => {
    it('streams the body to the origin as it arrives, forwards the headers, and attaches the descriptor', async (t) => {
      const base = pkg('pkg-up');
      await packagesResponder(t, base);
      const attach = await attachResponder(t, base);
      const content = randomBytes(3 * MiB);
      const sha256 = createHash('sha256').update(content).digest('hex');
      const uploadsBefore = origin.uploads.length;

      // Half the body, then nothing more until the origin has bytes: a gateway that buffered the
      // body would forward nothing before the end, and this upload would never finish.
      const body = new Readable({ read() {} });
      body.push(content.subarray(0, MiB));
      const response = putStream(
        baseUrl,
        '/v1/packages/pkg-up/content',
        { authorization: auth, 'content-length': String(content.length), 'x-content-sha256': sha256, 'content-type': 'application/octet-stream' },
        body,
      );
      await waitFor(() => (origin.uploads[uploadsBefore]?.bytes ?? 0) > 0, { description: 'the origin to receive the first bytes' });
      body.push(content.subarray(MiB));
      body.push(null);
      const res = await response;

      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.status, 'ready');
      assert.equal(res.body.contentId, sha256);
      const received = origin.uploads[uploadsBefore]!;
      assert.ok(received.body?.equals(content), 'the origin received exactly the bytes sent');
      assert.equal(received.headers.authorization, auth);
      assert.equal(received.headers['content-length'], String(content.length));
      assert.equal(received.headers['x-content-sha256'], sha256);
      // The content ID alone: the tasks service reads the block hashes from the origin, not from the gateway.
      assert.deepEqual(attach.calls, [{ packageId: 'pkg-up', contentId: descriptorOf(received).contentId }]);
    });

    it('leaves the upload body to the origin even when it is labelled JSON', async (t) => {
      const base = pkg('pkg-json');
      await packagesResponder(t, base);
      await attachResponder(t, base);
      const content = Buffer.from('{"this is": not JSON, and must arrive byte for byte');
      const uploadsBefore = origin.uploads.length;
      await api().put('/v1/packages/pkg-json/content').set('authorization', auth).set('content-type', 'application/json').send(content.toString('utf8')).expect(200);
      assert.ok(origin.uploads[uploadsBefore]?.body?.equals(content));
    });

    it('checks the package before streaming: an unknown one is 404 and the origin sees nothing', async (t) => {
      await packagesResponder(t);
      const uploadsBefore = origin.uploads.length;
      const res = await api().put('/v1/packages/pkg-missing/content').set('authorization', auth).set('content-type', 'application/octet-stream').send(randomBytes(1024)).expect(404);
      assert.equal(res.body.code, ErrorCode.PackageNotFound);
      assert.equal(origin.uploads.length, uploadsBefore);
    });

    it("passes the origin's 422 on with its body and attaches nothing", async (t) => {
      const base = pkg('pkg-bad');
      await packagesResponder(t, base);
      const attach = await attachResponder(t, base);
      origin.mode = 'reject-hash';
      t.after(() => {
        origin.mode = 'store';
      });
      const res = await api()
        .put('/v1/packages/pkg-bad/content')
        .set('authorization', auth)
        .set('content-type', 'application/octet-stream')
        .set('x-content-sha256', '0'.repeat(64))
        .send(randomBytes(64 * 1024))
        .expect(422);
      assert.equal(res.body.code, ErrorCode.HashMismatch);
      assert.match(res.body.message, /nothing was stored/);
      assert.equal(attach.calls.length, 0);
    });

    it('needs a token like every other route, and never reaches the origin without one', async () => {
      const uploadsBefore = origin.uploads.length;
      await api().put('/v1/packages/pkg-up/content').send(Buffer.alloc(10)).expect(401);
      assert.equal(origin.uploads.length, uploadsBefore);
    });

    it('uploads 200 MB through a gateway process whose memory stays flat', async (t) => {
      const base = pkg('pkg-big');
      await packagesResponder(t, base);
      await attachResponder(t, base);
      // A process of its own, started from its entry point: its memory is the gateway's alone.
      const port = await freePort();
      const gateway = await spawnNodeProcess(mainScript, {
        name: 'gateway',
        env: { NATS_URL: natsUrl, NATS_CREDS_FILE: natsCreds, HTTP_HOST: '127.0.0.1', HTTP_PORT: String(port), API_TOKENS: TOKEN, ORIGIN_URL: originUrl, LOG_LEVEL: 'warn' },
      });
      t.after(() => gateway.stop());
      const gatewayUrl = `http://127.0.0.1:${port}`;
      await waitFor(async () => (await fetch(`${gatewayUrl}/readyz`)).ok, { description: `the gateway to be ready\n${gateway.describe()}` });

      const total = 200 * MiB;
      const chunk = randomBytes(256 * 1024);
      const expected = createHash('sha256');
      let produced = 0;
      const body = new Readable({
        read() {
          if (produced >= total) {
            this.push(null);
            return;
          }
          expected.update(chunk);
          produced += chunk.length;
          this.push(chunk);
        },
      });
      const before = residentKiB(gateway.pid, 'VmRSS');
      const uploadsBefore = origin.uploads.length;
      const res = await putStream(gatewayUrl, '/v1/packages/pkg-big/content', { authorization: auth, 'content-length': String(total) }, body);
      // The kernel's high-water mark covers every moment of the upload, with no sampling to miss a peak.
      const peak = residentKiB(gateway.pid, 'VmHWM');
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const received = origin.uploads[uploadsBefore]!;
      assert.equal(received.bytes, total);
      assert.equal(received.sha256, expected.digest('hex'));
      const growthMiB = Math.max(0, peak - before) / 1024;
      t.diagnostic(`gateway RSS ${(before / 1024).toFixed(1)} MiB before, peak ${(peak / 1024).toFixed(1)} MiB during a 200 MiB upload`);
      assert.ok(growthMiB < 64, `the gateway's RSS grew by ${growthMiB.toFixed(1)} MiB while streaming 200 MiB`);
    });

    it('refuses a declared length over the limit with 413 before asking any service', async (t) => {
      const lookups = await packagesResponder(t, pkg('pkg-big'));
      const uploadsBefore = origin.uploads.length;
      // Only the headers are sent: the answer must come without the body.
      const body = new Readable({ read() {} });
      t.after(() => body.destroy());
      const res = await putStream(limitedUrl, '/v1/packages/pkg-big/content', { authorization: auth, 'content-length': String(2 * MiB) }, body);
      assert.equal(res.status, 413, JSON.stringify(res.body));
      assert.match(String(res.body.message), /exceeds the limit of 1048576 bytes/);
      assert.equal(lookups.calls.length, 0);
      assert.equal(origin.uploads.length, uploadsBefore);
    });

    it('cuts off a body without a length once it passes the limit, and the origin sees an incomplete upload', async (t) => {
      await packagesResponder(t, pkg('pkg-big'));
      const uploadsBefore = origin.uploads.length;
      // Chunked (no content-length), so only counting the bytes on the way can stop it. The client
      // sends a little over the limit and then waits, so the answer is not lost to a reset.
      const body = new Readable({ read() {} });
      t.after(() => body.destroy());
      body.push(Buffer.alloc(768 * 1024, 1));
      body.push(Buffer.alloc(768 * 1024, 2));
      const res = await putStream(limitedUrl, '/v1/packages/pkg-big/content', { authorization: auth }, body);
      assert.equal(res.status, 413, JSON.stringify(res.body));
      const received = await waitFor(() => (origin.uploads[uploadsBefore]?.closed ? origin.uploads[uploadsBefore] : undefined), {
        description: 'the origin to see the upload end',
      });
      assert.equal(received.complete, false, 'the origin must not see a complete upload');
      assert.ok(received.bytes <= MiB, `the origin got ${received.bytes} bytes, more than the limit`);
    });

    it('breaks off the upload to the origin when the client goes away', async (t) => {
      await packagesResponder(t, pkg('pkg-gone'));
      const uploadsBefore = origin.uploads.length;
      const client = httpRequest(`${baseUrl}/v1/packages/pkg-gone/content`, {
        method: 'PUT',
        headers: { authorization: auth, 'content-length': String(10 * MiB) },
      });
      client.on('error', () => undefined);
      client.write(Buffer.alloc(MiB));
      await waitFor(() => (origin.uploads[uploadsBefore]?.bytes ?? 0) > 0, { description: 'the origin to receive the first bytes' });
      client.destroy();
      const received = await waitFor(() => (origin.uploads[uploadsBefore]?.closed ? origin.uploads[uploadsBefore] : undefined), {
        description: 'the origin to see the upload end',
      });
      assert.equal(received.complete, false);
    });
  });

  describe('API document', () => {
    it('serves Swagger UI at /docs', async () => {
      const res = await api().get('/docs').expect(200);
      assert.match(res.text, /swagger-ui/i);
    });

    it('serves a valid OpenAPI document with the package routes, their schemas and bearer auth', async () => {
      const res = await api().get('/docs-json').expect(200);
      const doc = res.body as OpenApiDocument;
      assert.deepEqual(openApiProblems(doc), []);
      assert.match(doc.openapi, /^3\.0\.\d+$/);
      assert.deepEqual(doc.components.securitySchemes?.bearer, {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'opaque',
        description: 'An API token configured in the gateway (API_TOKENS)',
      });
      for (const [path, method] of [
        ['/v1/packages', 'post'],
        ['/v1/packages', 'get'],
        ['/v1/packages/{id}', 'get'],
        ['/v1/packages/{id}/content', 'put'],
        ['/v1/packages/{id}/manifest', 'get'],
        ['/v1/profiles/{id}', 'patch'],
        ['/v1/tasks/{id}/devices', 'get'],
        ['/v1/devices', 'get'],
        ['/v1/subnets', 'get'],
      ] as const) {
        const operation = doc.paths[path]?.[method];
        assert.ok(operation, `${method.toUpperCase()} ${path} is documented`);
        assert.deepEqual(operation.security, [{ bearer: [] }], `${method} ${path} needs the bearer token`);
      }
      assert.equal(doc.paths['/healthz'], undefined, 'probes are not part of the public API');
      const create = doc.paths['/v1/packages']!.post!;
      assert.deepEqual(create.requestBody?.content['application/json']?.schema, { $ref: '#/components/schemas/CreatePackage' });
      assert.deepEqual(create.responses['201']?.content?.['application/json']?.schema, { $ref: '#/components/schemas/Package' });
      assert.deepEqual(create.responses['400']?.content?.['application/json']?.schema, { $ref: '#/components/schemas/Error' });
      assert.deepEqual(doc.components.schemas.CreatePackage?.required, ['name', 'version', 'platform', 'installCommand']);
      assert.deepEqual(doc.components.schemas.Package?.properties?.platform, { type: 'string', enum: ['windows', 'macos', 'linux'] });
      const versionState = doc.paths['/v1/devices']!.get!.parameters?.find((p) => p.name === 'versionState');
      assert.deepEqual(versionState, { name: 'versionState', required: false, in: 'query', schema: { type: 'string', enum: ['supported', 'unsupported-version'] } });
      const versionStatus = doc.components.schemas.Device?.properties?.versionStatus;
      assert.deepEqual(versionStatus?.required, ['state', 'reason']);
      assert.ok(!doc.components.schemas.Device?.required?.includes('versionStatus'), 'an added field, optional');
      const upload = doc.paths['/v1/packages/{id}/content']!.put!;
      assert.ok(upload.requestBody?.content['application/octet-stream'], 'the upload takes raw bytes');
      assert.ok(upload.responses['422'], 'the upload documents the origin refusing it');
      const limit = doc.paths['/v1/packages']!.get!.parameters?.find((p) => p.name === 'limit');
      assert.deepEqual(limit, { name: 'limit', required: false, in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } });
    });
  });
});

// ---- a structural check of an OpenAPI 3.0 document --------------------------------------------

interface SchemaLike {
  $ref?: string;
  type?: string;
  properties?: Record<string, SchemaLike>;
  required?: string[];
  items?: SchemaLike;
  [key: string]: unknown;
}
interface Operation {
  operationId?: string;
  parameters?: Array<{ name: string; in: string; required?: boolean; schema?: SchemaLike }>;
  requestBody?: { content: Record<string, { schema?: SchemaLike }> };
  responses: Record<string, { description?: string; content?: Record<string, { schema?: SchemaLike }> }>;
  security?: Array<Record<string, string[]>>;
}
interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Partial<Record<'get' | 'put' | 'post' | 'patch' | 'delete', Operation>>>;
  components: { schemas: Record<string, SchemaLike>; securitySchemes?: Record<string, unknown> };
}

const SCHEMA_TYPES = new Set(['string', 'number', 'integer', 'boolean', 'array', 'object']);

/** What a reader of the OpenAPI 3.0 rules would object to; empty when the document is sound. */
function openApiProblems(doc: OpenApiDocument): string[] {
  const problems: string[] = [];
  if (!/^3\.0\.\d+$/.test(doc.openapi ?? '')) problems.push(`openapi version ${doc.openapi}`);
  if (!doc.info?.title || !doc.info?.version) problems.push('info.title and info.version are required');
  const operationIds = new Set<string>();
  const checkSchema = (schema: unknown, where: string): void => {
    if (schema === undefined || schema === null || typeof schema !== 'object') return;
    const s = schema as SchemaLike;
    if (s.$ref !== undefined) {
      const name = /^#\/components\/schemas\/(.+)$/.exec(s.$ref)?.[1];
      if (!name || !doc.components?.schemas?.[name]) problems.push(`${where}: unresolved $ref ${s.$ref}`);
      return;
    }
    if (s.type !== undefined && !SCHEMA_TYPES.has(s.type)) problems.push(`${where}: type ${s.type}`);
    if (s.type === 'array' && s.items === undefined) problems.push(`${where}: array without items`);
    for (const key of s.required ?? []) if (!s.properties?.[key]) problems.push(`${where}: required ${key} is not a property`);
    for (const [key, value] of Object.entries(s.properties ?? {})) checkSchema(value, `${where}.${key}`);
    checkSchema(s.items, `${where}[]`);
    for (const key of ['allOf', 'anyOf', 'oneOf'] as const) {
      const list = s[key];
      if (list !== undefined && !Array.isArray(list)) problems.push(`${where}: ${key} is not a list`);
      if (Array.isArray(list)) list.forEach((x, i) => checkSchema(x, `${where}.${key}[${i}]`));
    }
    if (typeof s.additionalProperties === 'object') checkSchema(s.additionalProperties, `${where}{}`);
  };
  for (const [name, schema] of Object.entries(doc.components?.schemas ?? {})) checkSchema(schema, `components.schemas.${name}`);
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    if (!path.startsWith('/')) problems.push(`path ${path} does not start with /`);
    const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    for (const [method, operation] of Object.entries(item)) {
      const where = `${method.toUpperCase()} ${path}`;
      if (!operation) continue;
      if (operation.operationId) {
        if (operationIds.has(operation.operationId)) problems.push(`${where}: duplicate operationId`);
        operationIds.add(operation.operationId);
      }
      if (!operation.responses || Object.keys(operation.responses).length === 0) problems.push(`${where}: no responses`);
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        if (!/^[1-5]\d\d$|^default$/.test(status)) problems.push(`${where}: response key ${status}`);
        if (typeof response.description !== 'string') problems.push(`${where} ${status}: description is required`);
        for (const [type, media] of Object.entries(response.content ?? {})) checkSchema(media.schema, `${where} ${status} ${type}`);
      }
      for (const [type, media] of Object.entries(operation.requestBody?.content ?? {})) checkSchema(media.schema, `${where} body ${type}`);
      for (const parameter of operation.parameters ?? []) {
        if (!['query', 'path', 'header', 'cookie'].includes(parameter.in)) problems.push(`${where}: parameter ${parameter.name} in ${parameter.in}`);
        if (parameter.in === 'path' && parameter.required !== true) problems.push(`${where}: path parameter ${parameter.name} must be required`);
        checkSchema(parameter.schema, `${where} parameter ${parameter.name}`);
      }
      for (const name of templated) {
        if (!operation.parameters?.some((p) => p.in === 'path' && p.name === name)) problems.push(`${where}: path parameter ${name} is not declared`);
      }
      for (const requirement of operation.security ?? []) {
        for (const scheme of Object.keys(requirement)) {
          if (!doc.components?.securitySchemes?.[scheme]) problems.push(`${where}: unknown security scheme ${scheme}`);
        }
      }
    }
  }
  return problems;
}
