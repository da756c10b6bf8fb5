// Resumable uploads against a real origin on a real port, its store on disk: resumed across a restart
// of the process, a chunk broken off mid-way, a declared hash that does not match, expiry, one writer
// at a time; and the removal of content.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpRequest, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { INestApplication } from '@nestjs/common';
import { BlockHasher, MANIFEST_BLOCK_SIZE } from '@fleetcast/content';
import { contentDescriptorSchema } from '@fleetcast/contracts';
import { createLogger } from '@fleetcast/telemetry';
import { startOriginApp } from '../src/app.bootstrap';
import { loadOriginConfig } from '../src/config/origin.config';
import { json, listFiles, send, waitFor } from './origin-harness';

const MiB = 1024 * 1024;
const TOKEN = 'origin-uploads-int-token';
const auth = { authorization: `Bearer ${TOKEN}` };
const stores: string[] = [];

interface Origin {
  app: INestApplication;
  baseUrl: string;
  storeDir: string;
}

/** An origin on the given store (a fresh one when absent); closing it keeps the store, so another can open it. */
async function startOn(storeDir?: string, env: Record<string, string> = {}): Promise<Origin> {
  const dir = storeDir ?? (await mkdtemp(join(tmpdir(), 'origin-uploads-int-')));
  if (!storeDir) stores.push(dir);
  const config = loadOriginConfig({ ORIGIN_STORE_DIR: dir, HTTP_PORT: '0', HTTP_HOST: '127.0.0.1', API_TOKENS: TOKEN, ...env });
  const app = await startOriginApp(config, createLogger('origin', 'error'));
  const { port } = (app.getHttpServer() as Server).address() as AddressInfo;
  return { app, baseUrl: `http://127.0.0.1:${port}`, storeDir: dir };
}

after(async () => {
  for (const dir of stores) await rm(dir, { recursive: true, force: true });
});

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function createUpload(o: Origin, size: number, extra: Record<string, string> = {}): Promise<string> {
  const created = await send(`${o.baseUrl}/v1/uploads`, 'POST', null, { ...auth, 'upload-length': String(size), ...extra });
  assert.equal(created.status, 201, created.body.toString());
  assert.equal(created.headers['upload-offset'], '0');
  return json(created).id as string;
}

const patch = (o: Origin, id: string, offset: number, body: Buffer) =>
  send(`${o.baseUrl}/v1/uploads/${id}`, 'PATCH', body, { ...auth, 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' });

const offsetOf = async (o: Origin, id: string): Promise<number | null> => {
  const head = await send(`${o.baseUrl}/v1/uploads/${id}`, 'HEAD', null, auth);
  return head.status === 200 ? Number(head.headers['upload-offset']) : null;
};

test('an upload resumes after the origin restarts: the offset and the hash survive on disk', async () => {
  const data = randomBytes(5 * MiB + 123);
  const first = await startOn();
  const id = await createUpload(first, data.length, { 'x-content-sha256': sha256(data), 'x-upload-label': 'pkg-1' });
  const part = await patch(first, id, 0, data.subarray(0, 3 * MiB));
  assert.equal(part.status, 204, part.body.toString());
  assert.equal(part.headers['upload-offset'], String(3 * MiB));
  await first.app.close();

  const second = await startOn(first.storeDir);
  try {
    const status = await send(`${second.baseUrl}/v1/uploads/${id}`, 'GET', null, auth);
    assert.equal(status.status, 200);
    assert.equal(json(status).offset, 3 * MiB);
    assert.equal(json(status).label, 'pkg-1');
    // Resending from 0 (a client that lost track) is refused with where to go on from.
    const wrong = await patch(second, id, 0, data);
    assert.equal(wrong.status, 409);
    assert.equal(json(wrong).code, 'ORIGIN.UPLOAD_OFFSET_MISMATCH');
    assert.equal(wrong.headers['upload-offset'], String(3 * MiB));

    const rest = await patch(second, id, 3 * MiB, data.subarray(3 * MiB));
    assert.equal(rest.status, 201, rest.body.toString());
    const descriptor = contentDescriptorSchema.parse(json(rest));
    const expected = new BlockHasher(MANIFEST_BLOCK_SIZE);
    expected.update(data);
    const manifest = expected.finish();
    assert.equal(descriptor.contentId, sha256(data));
    assert.equal(descriptor.blockHashes, Buffer.from(manifest.blockHashes).toString('base64'), 'block hashes rebuilt after the restart match');
    const stored = await readFile(join(second.storeDir, 'sha256', descriptor.contentId.slice(0, 2), descriptor.contentId));
    assert.ok(stored.equals(data));
    // The finished upload keeps only its record (its answer can be asked again), not its bytes.
    assert.deepEqual((await listFiles(join(second.storeDir, 'uploads'))).sort(), [`${id}.json`]);
    const again = await patch(second, id, data.length, Buffer.alloc(0));
    assert.equal(again.status, 200);
    assert.equal(json(again).contentId, descriptor.contentId);
  } finally {
    await second.app.close();
  }
});

test('a chunk broken off mid-way keeps what arrived; the next one goes on from there', async () => {
  const o = await startOn();
  try {
    const data = randomBytes(4 * MiB);
    const id = await createUpload(o, data.length);
    // Declares the whole, sends 2 MiB, then the connection breaks.
    await new Promise<void>((resolve) => {
      const req = httpRequest(`${o.baseUrl}/v1/uploads/${id}`, { method: 'PATCH', headers: { ...auth, 'upload-offset': '0', 'content-length': String(data.length) } });
      req.on('error', () => resolve());
      req.write(data.subarray(0, 2 * MiB), () => setTimeout(() => req.destroy(), 200));
      req.on('close', () => resolve());
    });
    let offset = 0;
    await waitFor('the broken chunk to be let go', async () => {
      const head = await offsetOf(o, id);
      offset = head ?? -1;
      const probe = await patch(o, id, offset, Buffer.alloc(0));
      return probe.status === 204;
    });
    assert.ok(offset > 0 && offset <= 2 * MiB, `kept ${offset} bytes`);
    const rest = await patch(o, id, offset, data.subarray(offset));
    assert.equal(rest.status, 201, rest.body.toString());
    assert.equal(json(rest).contentId, sha256(data));
  } finally {
    await o.app.close();
  }
});

test('a declared hash that does not match leaves nothing behind: no bytes, no upload, no content', async () => {
  const o = await startOn();
  try {
    const data = randomBytes(2 * MiB);
    const id = await createUpload(o, data.length, { 'x-content-sha256': sha256(Buffer.from('something else')) });
    assert.equal((await patch(o, id, 0, data.subarray(0, MiB))).status, 204);
    const last = await patch(o, id, MiB, data.subarray(MiB));
    assert.equal(last.status, 422);
    assert.equal(json(last).code, 'ORIGIN.HASH_MISMATCH');
    assert.equal(await offsetOf(o, id), null, 'the upload is gone');
    assert.deepEqual(await listFiles(join(o.storeDir, 'uploads')), []);
    assert.deepEqual(await listFiles(join(o.storeDir, 'sha256')), []);
  } finally {
    await o.app.close();
  }
});

test('bad requests: 400 naming the header, 404 for an unknown upload, 422 for a chunk past the size (undone)', async () => {
  const o = await startOn();
  try {
    const noLength = await send(`${o.baseUrl}/v1/uploads`, 'POST', null, auth);
    assert.equal(noLength.status, 400);
    assert.equal((json(noLength).details as Array<{ path: string }>)[0]!.path, 'headers.upload-length');
    const badHash = await send(`${o.baseUrl}/v1/uploads`, 'POST', null, { ...auth, 'upload-length': '10', 'x-content-sha256': 'abc' });
    assert.equal(badHash.status, 400);
    assert.equal((json(badHash).details as Array<{ path: string }>)[0]!.path, 'headers.x-content-sha256');
    const unauthenticated = await send(`${o.baseUrl}/v1/uploads`, 'POST', null, { 'upload-length': '10' });
    assert.equal(unauthenticated.status, 401);

    const unknown = await send(`${o.baseUrl}/v1/uploads/00000000-0000-4000-8000-000000000000`, 'GET', null, auth);
    assert.equal(unknown.status, 404);
    assert.equal(json(unknown).code, 'ORIGIN.UPLOAD_NOT_FOUND');
    assert.equal((await send(`${o.baseUrl}/v1/uploads/not-an-id`, 'GET', null, auth)).status, 404);

    const id = await createUpload(o, 1000);
    const noOffset = await send(`${o.baseUrl}/v1/uploads/${id}`, 'PATCH', Buffer.alloc(10), auth);
    assert.equal(noOffset.status, 400);
    assert.equal((json(noOffset).details as Array<{ path: string }>)[0]!.path, 'headers.upload-offset');
    assert.equal((await patch(o, id, 0, Buffer.alloc(400))).status, 204);
    // Sent chunked (no length to refuse it by): read, then undone whole.
    const past = await send(`${o.baseUrl}/v1/uploads/${id}`, 'PATCH', Readable.from([Buffer.alloc(700)]), { ...auth, 'upload-offset': '400' });
    assert.equal(past.status, 422, past.body.toString());
    assert.equal(await offsetOf(o, id), 400);
    // Declared with a length: refused before a byte is read.
    const declared = await patch(o, id, 400, Buffer.alloc(601));
    assert.equal(declared.status, 422);
    assert.equal(await offsetOf(o, id), 400);
  } finally {
    await o.app.close();
  }
});

test('one chunk at a time: a second PATCH while one is being received is 409 UPLOAD_BUSY', async () => {
  const o = await startOn();
  try {
    const id = await createUpload(o, 4 * MiB);
    const slow = new Readable({ read() {} });
    const first = send(`${o.baseUrl}/v1/uploads/${id}`, 'PATCH', slow, { ...auth, 'upload-offset': '0' });
    slow.push(randomBytes(MiB));
    await waitFor('the first chunk to arrive', async () => ((await offsetOf(o, id)) ?? 0) > 0);
    const second = await patch(o, id, 0, Buffer.alloc(10));
    assert.equal(second.status, 409);
    assert.equal(json(second).code, 'ORIGIN.UPLOAD_BUSY');
    slow.push(null);
    assert.equal((await first).status, 204);
    assert.equal(await offsetOf(o, id), MiB);
  } finally {
    await o.app.close();
  }
});

test('an upload left alone past UPLOAD_TTL_SECONDS answers 404 and its files are swept away', async () => {
  const o = await startOn(undefined, { UPLOAD_TTL_SECONDS: '1' });
  try {
    const id = await createUpload(o, MiB);
    assert.equal((await patch(o, id, 0, randomBytes(1000))).status, 204);
    assert.deepEqual((await listFiles(join(o.storeDir, 'uploads'))).sort(), [`${id}.json`, `${id}.part`]);
    await waitFor('the upload to expire', async () => (await offsetOf(o, id)) === null, 5_000);
    await waitFor('the sweep to remove its files', async () => (await listFiles(join(o.storeDir, 'uploads'))).length === 0, 5_000);
  } finally {
    await o.app.close();
  }
});

test('DELETE /v1/content/{id} removes content and its block hashes; 404 after; a token is needed', async () => {
  const o = await startOn();
  try {
    const data = randomBytes(MiB + 5);
    const put = await send(`${o.baseUrl}/v1/content`, 'PUT', data, auth);
    assert.equal(put.status, 201);
    const contentId = sha256(data);
    assert.equal((await send(`${o.baseUrl}/v1/content/${contentId}`, 'DELETE', null, {})).status, 401);
    assert.equal((await send(`${o.baseUrl}/v1/content/${contentId}`, 'DELETE', null, auth)).status, 204);
    assert.equal((await send(`${o.baseUrl}/v1/content/${contentId}`, 'GET', null, {})).status, 404);
    assert.equal((await send(`${o.baseUrl}/v1/content/${contentId}/blocks`, 'GET', null, {})).status, 404);
    assert.deepEqual(await listFiles(join(o.storeDir, 'sha256')), []);
    assert.equal((await send(`${o.baseUrl}/v1/content/${contentId}`, 'DELETE', null, auth)).status, 404);
  } finally {
    await o.app.close();
  }
});
