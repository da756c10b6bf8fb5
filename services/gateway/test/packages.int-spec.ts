// The packages API against the whole control plane as processes (real NATS, Postgres, tasks service,
// origin, gateway) with one real agent for a task's target: deleting a package (refused while a task
// not yet completed uses it, 404 for an unknown one, content removed from the origin, audited), the
// list's filters, and the error cases of resumable uploads.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient, ControlPlane, createTestDatabase, NatsServer, startAgentProcess, startControlPlane, startNatsServer, stopAll, TestDatabase, waitFor } from '@fleetcast/testing';

const TOKEN = `int-packages-${randomBytes(6).toString('hex')}`;
const DEVICE = 'pkg-int-dev-1';
const MiB = 1024 * 1024;

let nats: NatsServer;
let db: TestDatabase;
let work: string;
let cp: ControlPlane;
let api: ApiClient;

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function createPackage(name: string): Promise<string> {
  const pkg = await api.ok('POST', '/v1/packages', { name, version: '1.0', platform: 'linux', installCommand: '/bin/true' });
  return pkg.id as string;
}

async function uploadWhole(packageId: string, data: Buffer): Promise<void> {
  const res = await api.upload(packageId, new Blob([data]).stream());
  assert.equal(res.status, 200, JSON.stringify(res.body));
}

/** A raw request to the gateway, for what fetch makes awkward (HEAD headers, PATCH bodies, broken-off streams). */
function call(method: string, path: string, body: Buffer | null, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: any }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${cp.gatewayUrl}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}`, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? JSON.parse(text) : undefined });
      });
    });
    req.on('error', reject);
    req.end(body ?? undefined);
  });
}

const originHasContent = async (contentId: string) => (await fetch(`${cp.originUrl}/v1/content/${contentId}/blocks`)).status === 200;

describe('packages API on the whole control plane', () => {
  before(async () => {
    nats = await startNatsServer();
    db = await createTestDatabase('int_gateway_packages');
    work = await mkdtemp(join(tmpdir(), 'fleetcast-int-packages-'));
    cp = await startControlPlane({ natsUrl: nats.url, trustDir: nats.trust?.dir, databaseUrl: db.url, workDir: join(work, 'control-plane'), apiToken: TOKEN });
    api = new ApiClient(cp.gatewayUrl, TOKEN);
    const agent = await startAgentProcess({ natsUrl: nats.url, controlPlane: cp, deviceId: DEVICE, dir: join(work, 'agent'), args: ['--no-multicast', '--scan-interval-seconds', '5'] });
    await agent.waitForOutput(/agent ready/, { timeoutMs: 30_000 });
    await waitFor(async () => (await api.ok('GET', '/v1/devices')).total === 1, { timeoutMs: 20_000, description: 'the inventory knows the agent' });
  });

  after(async () => {
    await stopAll();
    await db?.drop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  describe('DELETE /v1/packages/{id}', () => {
    it('answers 404 for an unknown package', async () => {
      const res = await api.request('DELETE', '/v1/packages/no-such-package');
      assert.equal(res.status, 404);
      assert.equal(res.body.code, 'TASKS.PACKAGE_NOT_FOUND');
    });

    it('refuses with 409 TASKS.PACKAGE_IN_USE while a scheduled task uses it, naming the task; nothing is removed', async () => {
      const data = randomBytes(MiB + 7);
      const id = await createPackage('in-use');
      await uploadWhole(id, data);
      // Scheduled for tomorrow: not terminal, and nothing reaches the agent meanwhile.
      const task = await api.ok('POST', '/v1/tasks', { packageId: id, action: 'cache-only', targets: { deviceIds: [DEVICE] }, startAt: new Date(Date.now() + 86_400_000).toISOString() });
      assert.equal(task.status, 'scheduled');
      const res = await api.request('DELETE', `/v1/packages/${id}`);
      assert.equal(res.status, 409, JSON.stringify(res.body));
      assert.equal(res.body.code, 'TASKS.PACKAGE_IN_USE');
      assert.match(res.body.message, new RegExp(task.id));
      assert.equal((await api.request('GET', `/v1/packages/${id}`)).status, 200);
      assert.equal(await originHasContent(sha256(data)), true);
    });

    it('deletes a package: gone from reads and the list, its content removed from the origin, audited; again answers the same', async () => {
      const data = randomBytes(2 * MiB + 1);
      const id = await createPackage('to-delete');
      await uploadWhole(id, data);
      assert.equal(await originHasContent(sha256(data)), true);

      const res = await api.request('DELETE', `/v1/packages/${id}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.id, id);
      assert.equal(res.body.removedContentId, sha256(data));
      assert.equal(await originHasContent(sha256(data)), false, 'the origin no longer has the content');
      assert.equal((await api.request('GET', `/v1/packages/${id}`)).status, 404);
      const listed = await api.ok('GET', '/v1/packages?name=to-delete');
      assert.equal(listed.total, 0);
      // A task cannot be created with it any more.
      const task = await api.request('POST', '/v1/tasks', { packageId: id, action: 'cache-only', targets: { deviceIds: [DEVICE] } });
      assert.equal(task.status, 404);

      const again = await api.request('DELETE', `/v1/packages/${id}`);
      assert.equal(again.status, 200);
      assert.equal(again.body.deletedAt, res.body.deletedAt);

      const audit = await waitFor(
        async () => {
          const page = await api.ok('GET', '/v1/audit-log?limit=1000');
          return page.items.find((e: { method: string; resourceId: string | null; status: number }) => e.method === 'DELETE' && e.resourceId === id && e.status === 200);
        },
        { timeoutMs: 10_000, description: 'the deletion in the audit log' },
      );
      assert.equal(audit.outcome, 'accepted');
    });

    it("a deleted package's content leaves the agent's cache at its next scan (a notice signed for it)", async () => {
      const data = randomBytes(MiB + 99);
      const id = await createPackage('cached-then-deleted');
      await uploadWhole(id, data);
      const task = await api.ok('POST', '/v1/tasks', { packageId: id, action: 'cache-only', targets: { deviceIds: [DEVICE] } });
      await waitFor(async () => (await api.ok('GET', `/v1/tasks/${task.id}`)).status === 'completed', { timeoutMs: 30_000, description: 'the cache-only task to complete' });
      const cached = join(work, 'agent', 'cache', 'content', sha256(data));
      assert.equal(existsSync(cached), true, 'the agent cached the content');

      assert.equal((await api.request('DELETE', `/v1/packages/${id}`)).status, 200);
      await waitFor(() => !existsSync(cached), { timeoutMs: 20_000, description: "the content to leave the agent's cache" });
    });

    it('keeps the content on the origin while another package has the same bytes', async () => {
      const data = randomBytes(MiB);
      const first = await createPackage('twin-a');
      const second = await createPackage('twin-b');
      await uploadWhole(first, data);
      await uploadWhole(second, data);
      const res = await api.request('DELETE', `/v1/packages/${first}`);
      assert.equal(res.status, 200);
      assert.equal(res.body.removedContentId, null);
      assert.equal(await originHasContent(sha256(data)), true);
      assert.equal((await api.request('DELETE', `/v1/packages/${second}`)).body.removedContentId, sha256(data));
      assert.equal(await originHasContent(sha256(data)), false);
    });
  });

  describe('GET /v1/packages filters', () => {
    it('filters by a name substring (any case), status and creation time, and pages with limit and offset', async () => {
      const before = new Date().toISOString();
      const alpha = await createPackage('Filter-Alpha');
      const beta = await createPackage('filter-beta');
      await createPackage('unrelated');
      await uploadWhole(beta, randomBytes(1000));

      const byName = await api.ok('GET', '/v1/packages?name=FILTER-');
      assert.deepEqual(byName.items.map((p: { id: string }) => p.id), [beta, alpha], 'newest first');
      assert.equal(byName.total, 2);
      assert.deepEqual((await api.ok('GET', '/v1/packages?name=alpha')).items.map((p: { id: string }) => p.id), [alpha]);
      assert.deepEqual((await api.ok('GET', '/v1/packages?name=filter&status=ready')).items.map((p: { id: string }) => p.id), [beta]);
      // LIKE's wildcards are plain characters in a name filter.
      assert.equal((await api.ok('GET', '/v1/packages?name=%25')).total, 0);

      const page = await api.ok('GET', '/v1/packages?name=filter&limit=1&offset=1');
      assert.deepEqual([page.items.length, page.items[0].id, page.total], [1, alpha, 2]);
      const since = await api.ok('GET', `/v1/packages?createdAfter=${encodeURIComponent(before)}&limit=1000`);
      assert.equal(since.total, 3);
      assert.equal((await api.ok('GET', `/v1/packages?createdBefore=${encodeURIComponent(before)}&name=filter`)).total, 0);
    });

    it('answers bad filters with 400 naming the field', async () => {
      const badTime = await api.request('GET', '/v1/packages?createdAfter=yesterday');
      assert.equal(badTime.status, 400);
      assert.equal(badTime.body.details[0].path, 'createdAfter');
      const reversed = await api.request('GET', '/v1/packages?createdAfter=2026-01-02T00:00:00Z&createdBefore=2026-01-01T00:00:00Z');
      assert.equal(reversed.status, 400);
      assert.equal(reversed.body.details[0].path, 'createdBefore');
      const badStatus = await api.request('GET', '/v1/packages?status=gone');
      assert.equal(badStatus.status, 400);
      assert.equal(badStatus.body.details[0].path, 'status');
    });
  });

  describe('resumable uploads', () => {
    it('uploads in two chunks with HEAD between: the package becomes ready with the right hash', async () => {
      const data = randomBytes(3 * MiB + 11);
      const id = await createPackage('resumable');
      const created = await api.request('POST', '/v1/uploads', { packageId: id, size: data.length, sha256: sha256(data) });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.deepEqual([created.body.packageId, created.body.offset, created.body.size], [id, 0, data.length]);
      const upload = created.body.id as string;

      const first = await call('PATCH', `/v1/uploads/${upload}`, data.subarray(0, 2 * MiB), { 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' });
      assert.equal(first.status, 204, JSON.stringify(first.body));
      assert.equal(first.headers['upload-offset'], String(2 * MiB));
      const head = await call('HEAD', `/v1/uploads/${upload}`, null);
      assert.equal(head.status, 200);
      assert.equal(head.headers['upload-offset'], String(2 * MiB));
      assert.equal(head.headers['upload-length'], String(data.length));

      const last = await call('PATCH', `/v1/uploads/${upload}`, data.subarray(2 * MiB), { 'upload-offset': String(2 * MiB), 'content-type': 'application/offset+octet-stream' });
      assert.equal(last.status, 200, JSON.stringify(last.body));
      assert.deepEqual([last.body.id, last.body.status, last.body.contentId, last.body.size], [id, 'ready', sha256(data), data.length]);
    });

    it('answers a bad body with 400 naming the field, an unknown package with 404, a ready one with 409', async () => {
      const noSize = await api.request('POST', '/v1/uploads', { packageId: 'x' });
      assert.equal(noSize.status, 400);
      assert.deepEqual(noSize.body.details.map((d: { path: string }) => d.path), ['size']);
      const badHash = await api.request('POST', '/v1/uploads', { packageId: 'x', size: 10, sha256: 'nope' });
      assert.equal(badHash.status, 400);
      assert.equal(badHash.body.details[0].path, 'sha256');
      const unknown = await api.request('POST', '/v1/uploads', { packageId: 'no-such-package', size: 10 });
      assert.equal(unknown.status, 404);
      const ready = await createPackage('already-ready');
      await uploadWhole(ready, randomBytes(100));
      const conflict = await api.request('POST', '/v1/uploads', { packageId: ready, size: 10 });
      assert.equal(conflict.status, 409);
    });

    it('answers an unknown upload with 404 on HEAD, GET, PATCH and DELETE', async () => {
      const unknown = '00000000-0000-4000-8000-000000000000';
      assert.equal((await call('HEAD', `/v1/uploads/${unknown}`, null)).status, 404);
      const get = await call('GET', `/v1/uploads/${unknown}`, null);
      assert.equal(get.status, 404);
      assert.equal(get.body.code, 'ORIGIN.UPLOAD_NOT_FOUND');
      assert.equal((await call('PATCH', `/v1/uploads/${unknown}`, Buffer.alloc(10), { 'upload-offset': '0' })).status, 404);
      assert.equal((await call('DELETE', `/v1/uploads/${unknown}`, null)).status, 404);
      assert.equal((await call('GET', '/v1/uploads/not-an-upload', null)).status, 404);
    });

    it('answers a wrong offset with 409 and the current offset; a missing one with 400 naming it', async () => {
      const id = await createPackage('bad-offset');
      const upload = (await api.ok('POST', '/v1/uploads', { packageId: id, size: 1000 })).id as string;
      assert.equal((await call('PATCH', `/v1/uploads/${upload}`, Buffer.alloc(300), { 'upload-offset': '0' })).status, 204);
      const wrong = await call('PATCH', `/v1/uploads/${upload}`, Buffer.alloc(100), { 'upload-offset': '100' });
      assert.equal(wrong.status, 409);
      assert.equal(wrong.body.code, 'ORIGIN.UPLOAD_OFFSET_MISMATCH');
      assert.equal(wrong.headers['upload-offset'], '300');
      const missing = await call('PATCH', `/v1/uploads/${upload}`, Buffer.alloc(100), {});
      assert.equal(missing.status, 400);
      assert.equal(missing.body.details[0].path, 'headers.upload-offset');
    });

    it('a declared hash that does not match answers 422 and leaves nothing: no upload, no content, the package still awaiting it', async () => {
      const data = randomBytes(MiB + 3);
      const id = await createPackage('hash-mismatch');
      const upload = (await api.ok('POST', '/v1/uploads', { packageId: id, size: data.length, sha256: sha256(Buffer.from('other bytes')) })).id as string;
      const res = await call('PATCH', `/v1/uploads/${upload}`, data, { 'upload-offset': '0' });
      assert.equal(res.status, 422, JSON.stringify(res.body));
      assert.equal(res.body.code, 'ORIGIN.HASH_MISMATCH');
      assert.equal((await call('HEAD', `/v1/uploads/${upload}`, null)).status, 404);
      assert.equal(await originHasContent(sha256(data)), false);
      const uploadsDir = join(work, 'control-plane', 'origin-store', 'uploads');
      assert.deepEqual((await readdir(uploadsDir)).filter((name) => name.startsWith(upload)), []);
      assert.equal((await api.ok('GET', `/v1/packages/${id}`)).status, 'awaiting-content');
    });
  });

  describe('confidential packages', () => {
    it('a resumable upload is sealed: the package names the ciphertext, the origin keeps no plaintext, the target installs the plaintext', async () => {
      const data = Buffer.concat(Array.from({ length: 3 * 64 * 1024 }, (_, i) => Buffer.from(`secret line ${i.toString().padStart(8, '0')}\n`))).subarray(0, 3 * MiB + 17);
      const pkg = await api.ok('POST', '/v1/packages', {
        name: 'confidential-tool',
        version: '1.0',
        platform: 'linux',
        installCommand: '/bin/sh',
        installArgs: ['-c', `test "$(sha256sum "$FLEETCAST_PACKAGE_PATH" | cut -c1-64)" = "${sha256(data)}"`],
        confidential: true,
      });
      assert.equal(pkg.confidential, true);
      const created = await api.request('POST', '/v1/uploads', { packageId: pkg.id, size: data.length, sha256: sha256(data) });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const first = await call('PATCH', `/v1/uploads/${created.body.id}`, data.subarray(0, MiB), { 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' });
      assert.equal(first.status, 204);
      const last = await call('PATCH', `/v1/uploads/${created.body.id}`, data.subarray(MiB), { 'upload-offset': String(MiB), 'content-type': 'application/offset+octet-stream' });
      assert.equal(last.status, 200, JSON.stringify(last.body));
      assert.equal(last.body.status, 'ready');
      assert.notEqual(last.body.contentId, sha256(data), 'the content is the ciphertext');
      assert.ok(last.body.size > data.length, 'a tag per block');
      assert.equal(await originHasContent(sha256(data)), false, 'the plaintext left the origin');
      assert.equal(await originHasContent(last.body.contentId), true);

      const task = await api.ok('POST', '/v1/tasks', { packageId: pkg.id, action: 'install', targets: { deviceIds: [DEVICE] } });
      const done = await waitFor(
        async () => {
          const rows = await api.ok('GET', `/v1/tasks/${task.id}/devices`);
          const row = rows.items.find((r: { deviceId: string }) => r.deviceId === DEVICE);
          return row && ['succeeded', 'failed'].includes(row.state) ? row : undefined;
        },
        { timeoutMs: 30_000, description: 'the confidential install done' },
      );
      assert.equal(done.state, 'succeeded', JSON.stringify(done.reason));
    });

    it('the API documents the flag', async () => {
      const doc = await api.ok('GET', '/docs-json');
      assert.match(JSON.stringify(doc.components ?? doc), /"confidential"/);
    });
  });
});
