import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import request from 'supertest';
import { BlockHasher, issueDownloadToken, MANIFEST_BLOCK_SIZE } from '@fleetcast/content';
import { contentDescriptorSchema } from '@fleetcast/contracts';
import { GeneratedStream, RunningOrigin, json, listFiles, sample, send, startOrigin, waitFor } from './origin-harness';

const descriptorSchema = contentDescriptorSchema.strict();

// 3.5 blocks: several full blocks and a short last one.
const data = randomBytes(3 * MANIFEST_BLOCK_SIZE + MANIFEST_BLOCK_SIZE / 2);
const expected = (() => {
  const hasher = new BlockHasher(MANIFEST_BLOCK_SIZE);
  hasher.update(data);
  return hasher.finish();
})();
const id = expected.contentId;
const unknownId = createHash('sha256').update('never uploaded').digest('hex');

let origin: RunningOrigin;
const url = (path: string): string => origin.baseUrl + path;

before(async () => {
  origin = await startOrigin();
});

after(async () => {
  await origin.close();
});

test('upload: 201 with the descriptor, stored content-addressed with its block hashes, nothing in tmp', async () => {
  const result = await send(url('/v1/content'), 'PUT', data, { 'x-content-sha256': id, 'content-type': 'application/octet-stream' });
  assert.equal(result.status, 201, result.body.toString());
  const descriptor = descriptorSchema.parse(json(result));
  assert.deepEqual(descriptor, {
    contentId: id,
    size: data.length,
    blockSize: MANIFEST_BLOCK_SIZE,
    blockHashes: Buffer.from(expected.blockHashes).toString('base64'),
  });
  assert.equal(result.headers.location, `/v1/content/${id}`);

  const shard = id.slice(0, 2);
  assert.deepEqual(await listFiles(origin.storeDir), [`sha256/${shard}/${id}`, `sha256/${shard}/${id}.blocks`]);
  assert.ok((await readFile(join(origin.storeDir, 'sha256', shard, id))).equals(data));
  assert.ok((await readFile(join(origin.storeDir, 'sha256', shard, `${id}.blocks`))).equals(Buffer.from(expected.blockHashes)));

  const again = await send(url('/v1/content'), 'PUT', data, { 'x-content-size': String(data.length) });
  assert.equal(again.status, 200, 'the same bytes again are not stored twice');
  assert.deepEqual(json(again), descriptor);
  assert.equal((await listFiles(origin.storeDir)).length, 2);
});

test('upload: a chunked body with no length is stored; the JSON body parser does not get in the way', async () => {
  const stream = new GeneratedStream(2 * MANIFEST_BLOCK_SIZE + 5);
  const result = await send(url('/v1/content'), 'PUT', stream, { 'content-type': 'application/json' });
  assert.equal(result.status, 201, result.body.toString());
  const descriptor = descriptorSchema.parse(json(result));
  assert.equal(descriptor.contentId, stream.sha256());
  assert.equal(descriptor.size, 2 * MANIFEST_BLOCK_SIZE + 5);
  assert.equal(Buffer.from(descriptor.blockHashes, 'base64').length, 3 * 32);
});

test('upload: empty content is valid and has no blocks', async () => {
  const result = await send(url('/v1/content'), 'PUT', Buffer.alloc(0));
  assert.equal(result.status, 201);
  const emptyId = createHash('sha256').digest('hex');
  assert.deepEqual(json(result), { contentId: emptyId, size: 0, blockSize: MANIFEST_BLOCK_SIZE, blockHashes: '' });
  const download = await fetch(url(`/v1/content/${emptyId}`));
  assert.equal(download.status, 200);
  assert.equal(download.headers.get('content-length'), '0');
  assert.equal((await download.arrayBuffer()).byteLength, 0);
  assert.equal((await fetch(url(`/v1/content/${emptyId}`), { headers: { range: 'bytes=0-' } })).status, 416);
});

test('upload: a wrong declared hash or size is a 422 and leaves nothing in the store', async () => {
  const fresh = await startOrigin();
  try {
    const body = randomBytes(MANIFEST_BLOCK_SIZE + 1);
    // A stream body goes chunked, so only x-content-size declares its size.
    const cases: Array<[Record<string, string>, 'buffer' | 'chunked', string]> = [
      [{ 'x-content-sha256': unknownId }, 'buffer', 'ORIGIN.HASH_MISMATCH'],
      [{ 'x-content-size': String(body.length - 1) }, 'chunked', 'ORIGIN.SIZE_MISMATCH'],
      [{ 'x-content-size': String(body.length + 1) }, 'chunked', 'ORIGIN.SIZE_MISMATCH'],
      [{ 'content-length': String(body.length), 'x-content-size': '5' }, 'buffer', 'ORIGIN.SIZE_MISMATCH'],
    ];
    for (const [headers, framing, code] of cases) {
      const result = await send(fresh.baseUrl + '/v1/content', 'PUT', framing === 'buffer' ? body : Readable.from([body]), headers);
      assert.equal(result.status, 422, JSON.stringify(headers));
      const error = json(result);
      assert.equal(error.code, code, JSON.stringify(headers));
      assert.equal(typeof error.message, 'string');
      assert.deepEqual(await listFiles(fresh.storeDir), [], `nothing left after ${JSON.stringify(headers)}`);
    }
    const metrics = (await request(fresh.baseUrl).get('/metrics').expect(200)).text;
    assert.equal(sample(metrics, 'fleetcast_origin_uploads_total', { result: 'hash_mismatch' }), 1);
    assert.equal(sample(metrics, 'fleetcast_origin_uploads_total', { result: 'size_mismatch' }), 3);
  } finally {
    await fresh.close();
  }
});

test('upload: malformed declarations are a 400 naming the header', async () => {
  const result = await send(url('/v1/content'), 'PUT', Buffer.from('x'), { 'x-content-sha256': 'not-a-hash' });
  assert.equal(result.status, 400);
  assert.equal(json(result).code, 'CONTRACT.INVALID');
  assert.match(String(json(result).message), /x-content-sha256/);
});

test('upload: a client that goes away mid-body leaves nothing behind', async () => {
  const fresh = await startOrigin();
  try {
    const declared = 8 * MANIFEST_BLOCK_SIZE;
    const req = httpRequest(fresh.baseUrl + '/v1/content', { method: 'PUT', headers: { 'content-length': String(declared) } });
    req.on('error', () => undefined);
    req.write(randomBytes(MANIFEST_BLOCK_SIZE));
    // The upload is under way once its temp file holds bytes.
    await waitFor('the temp file to appear', async () => (await listFiles(join(fresh.storeDir, 'tmp'))).length === 1);
    req.destroy();
    await waitFor('the temp file to be removed', async () => (await listFiles(fresh.storeDir)).length === 0);
    await waitFor('the abort to be counted', async () => {
      const metrics = (await request(fresh.baseUrl).get('/metrics')).text;
      return sample(metrics, 'fleetcast_origin_uploads_total', { result: 'aborted' }) === 1;
    });
    const metrics = (await request(fresh.baseUrl).get('/metrics')).text;
    assert.ok((sample(metrics, 'fleetcast_origin_upload_bytes_total') ?? 0) > 0);
    assert.equal(sample(metrics, 'fleetcast_origin_uploads_total', { result: 'created' }), undefined);
  } finally {
    await fresh.close();
  }
});

test('download: whole content with its headers', async () => {
  const res = await fetch(url(`/v1/content/${id}`));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-length'), String(data.length));
  assert.equal(res.headers.get('etag'), `"${id}"`);
  assert.equal(res.headers.get('accept-ranges'), 'bytes');
  assert.equal(res.headers.get('content-type'), 'application/octet-stream');
  assert.match(res.headers.get('cache-control') ?? '', /immutable/);
  assert.ok(Buffer.from(await res.arrayBuffer()).equals(data));
});

test('download: ranges, and resuming from any offset gives exactly the tail', async () => {
  const size = data.length;
  const table: Array<[range: string, start: number, end: number]> = [
    ['bytes=0-99', 0, 99],
    ['bytes=100-199', 100, 199],
    [`bytes=${size - 10}-${size + 1000}`, size - 10, size - 1],
    ['bytes=-100', size - 100, size - 1],
  ];
  for (const offset of [0, 1, MANIFEST_BLOCK_SIZE, MANIFEST_BLOCK_SIZE + 12345, size - 1]) table.push([`bytes=${offset}-`, offset, size - 1]);
  for (const [range, start, end] of table) {
    const res = await fetch(url(`/v1/content/${id}`), { headers: { range } });
    assert.equal(res.status, 206, range);
    assert.equal(res.headers.get('content-range'), `bytes ${start}-${end}/${size}`, range);
    assert.equal(res.headers.get('content-length'), String(end - start + 1), range);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(data.subarray(start, end + 1)), range);
  }
});

test('download: If-Range keeps a range only for the current ETag', async () => {
  const same = await fetch(url(`/v1/content/${id}`), { headers: { range: 'bytes=10-19', 'if-range': `"${id}"` } });
  assert.equal(same.status, 206);
  assert.ok(Buffer.from(await same.arrayBuffer()).equals(data.subarray(10, 20)));
  const stale = await fetch(url(`/v1/content/${id}`), { headers: { range: 'bytes=10-19', 'if-range': `"${unknownId}"` } });
  assert.equal(stale.status, 200);
  assert.equal((await stale.arrayBuffer()).byteLength, data.length);
});

test('download: If-None-Match with the ETag is a 304 with no body', async () => {
  for (const tag of [`"${id}"`, `W/"${id}"`, `"${unknownId}", "${id}"`, '*']) {
    const res = await fetch(url(`/v1/content/${id}`), { headers: { 'if-none-match': tag } });
    assert.equal(res.status, 304, tag);
    assert.equal(res.headers.get('etag'), `"${id}"`);
    assert.equal((await res.arrayBuffer()).byteLength, 0);
  }
  const other = await fetch(url(`/v1/content/${id}`), { headers: { 'if-none-match': `"${unknownId}"` } });
  assert.equal(other.status, 200);
  assert.equal((await other.arrayBuffer()).byteLength, data.length);
});

test('download: a range past the end is a 416 with the size', async () => {
  const res = await fetch(url(`/v1/content/${id}`), { headers: { range: `bytes=${data.length}-` } });
  assert.equal(res.status, 416);
  assert.equal(res.headers.get('content-range'), `bytes */${data.length}`);
  assert.equal(((await res.json()) as { code: string }).code, 'ORIGIN.RANGE_NOT_SATISFIABLE');
});

test('HEAD: the headers of a GET and no body', async () => {
  const res = await fetch(url(`/v1/content/${id}`), { method: 'HEAD' });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-length'), String(data.length));
  assert.equal(res.headers.get('etag'), `"${id}"`);
  assert.equal(res.headers.get('accept-ranges'), 'bytes');
  assert.equal((await res.arrayBuffer()).byteLength, 0);
  assert.equal((await fetch(url(`/v1/content/${unknownId}`), { method: 'HEAD' })).status, 404);
});

test('unknown content is a 404 with its code; a malformed ID a 400', async () => {
  for (const path of [`/v1/content/${unknownId}`, `/v1/content/${unknownId}/blocks`]) {
    const res = await request(origin.baseUrl).get(path).expect(404);
    assert.equal(res.body.code, 'ORIGIN.CONTENT_NOT_FOUND', path);
  }
  for (const path of ['/v1/content/abc', `/v1/content/${id.toUpperCase()}`, `/v1/content/${id}0/blocks`]) {
    const res = await request(origin.baseUrl).get(path).expect(400);
    assert.equal(res.body.code, 'CONTRACT.INVALID', path);
    assert.equal(res.body.details[0].path, 'params.contentId');
  }
  const unknownRoute = await request(origin.baseUrl).get('/v2/nothing').expect(404);
  assert.equal(unknownRoute.body.code, 'COMMON.NOT_FOUND');
});

test('blocks: the descriptor of the upload, rebuilt from the bytes when its file is gone', async () => {
  const first = await request(origin.baseUrl).get(`/v1/content/${id}/blocks`).expect(200);
  assert.deepEqual(descriptorSchema.parse(first.body), {
    contentId: id,
    size: data.length,
    blockSize: MANIFEST_BLOCK_SIZE,
    blockHashes: Buffer.from(expected.blockHashes).toString('base64'),
  });
  const blocksFile = join(origin.storeDir, 'sha256', id.slice(0, 2), `${id}.blocks`);
  await unlink(blocksFile);
  const rebuilt = await request(origin.baseUrl).get(`/v1/content/${id}/blocks`).expect(200);
  assert.deepEqual(rebuilt.body, first.body);
  assert.ok((await readFile(blocksFile)).equals(Buffer.from(expected.blockHashes)));
});

test('counting: bytes served per device and subnet, in the JSON stats and in /metrics', async () => {
  const subnet = '10.9.0.0/24';
  const get = (headers: Record<string, string>) => fetch(url(`/v1/content/${id}`), { headers }).then((res) => res.arrayBuffer());
  await request(origin.baseUrl).delete('/v1/stats/bytes-served').expect(200);

  await get({ 'x-fleetcast-device': 'count-a', 'x-fleetcast-subnet': subnet });
  await get({ 'x-fleetcast-device': 'count-b', 'x-fleetcast-subnet': subnet, range: 'bytes=0-99' });
  await get({ 'x-fleetcast-device': 'count-c', 'x-fleetcast-subnet': '10.9.1.0/24', range: `bytes=-${MANIFEST_BLOCK_SIZE}` });
  await get({});
  // Neither a HEAD nor a 304 sends content bytes.
  await fetch(url(`/v1/content/${id}`), { method: 'HEAD', headers: { 'x-fleetcast-device': 'count-d' } });
  await get({ 'x-fleetcast-device': 'count-d', 'if-none-match': `"${id}"` });

  const total = 2 * data.length + 100 + MANIFEST_BLOCK_SIZE;
  await waitFor('all bytes to be counted', async () => (await request(origin.baseUrl).get('/v1/stats/bytes-served')).body.total === total);
  const stats = (await request(origin.baseUrl).get('/v1/stats/bytes-served').expect(200)).body;
  assert.deepEqual(stats, {
    total,
    bySubnet: { [subnet]: data.length + 100, '10.9.1.0/24': MANIFEST_BLOCK_SIZE, unknown: data.length },
    byDevice: { 'count-a': data.length, 'count-b': 100, 'count-c': MANIFEST_BLOCK_SIZE, unknown: data.length },
  });

  const metrics = (await request(origin.baseUrl).get('/metrics').expect(200)).text;
  assert.equal(sample(metrics, 'fleetcast_origin_bytes_served_total', { subnet }), data.length + 100);
  // No per-device series: a fleet's devices would each be one (their figures are in the JSON above).
  assert.equal(sample(metrics, 'fleetcast_origin_device_bytes_served_total', { device: 'count-a' }), undefined);
  assert.ok((sample(metrics, 'fleetcast_process_resident_memory_bytes') ?? 0) > 0, 'process metrics are exported too');

  // A reset answers with what it reset; the JSON starts again, the counters keep growing.
  const reset = await request(origin.baseUrl).delete('/v1/stats/bytes-served').expect(200);
  assert.equal(reset.body.total, total);
  assert.deepEqual((await request(origin.baseUrl).get('/v1/stats/bytes-served')).body, { total: 0, bySubnet: {}, byDevice: {} });
  const after = (await request(origin.baseUrl).get('/metrics')).text;
  assert.equal(sample(after, 'fleetcast_origin_bytes_served_total', { subnet }), data.length + 100);
});

test('counting: a client that disconnects mid-download is counted for what reached its socket', async () => {
  const big = new GeneratedStream(64 * MANIFEST_BLOCK_SIZE);
  const stored = await send(url('/v1/content'), 'PUT', big);
  assert.equal(stored.status, 201);
  const bigId = String(json(stored).contentId);
  const size = 64 * MANIFEST_BLOCK_SIZE;

  let received = 0;
  await new Promise<void>((resolve, reject) => {
    const req = httpRequest(url(`/v1/content/${bigId}`), { headers: { 'x-fleetcast-device': 'partial', 'x-fleetcast-subnet': '10.9.2.0/24' } }, (res) => {
      res.once('data', (chunk: Buffer) => {
        received += chunk.length;
        req.destroy();
        resolve();
      });
    });
    req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? undefined : reject(error)));
    req.end();
  });

  // The count settles once the server has seen the connection close.
  let last = -1;
  await waitFor('the count to settle', async () => {
    const now = (await request(origin.baseUrl).get('/v1/stats/bytes-served')).body.byDevice.partial ?? 0;
    const settled = now > 0 && now === last;
    last = now;
    await new Promise((resolve) => setTimeout(resolve, 100));
    return settled;
  });
  assert.ok(last >= received, `counted ${last}, the client read ${received}`);
  assert.ok(last < size / 2, `counted ${last} of ${size}: only what reached the socket, not the whole file`);
});

test('requester headers that would make bad labels are a 400', async () => {
  const res = await fetch(url(`/v1/content/${id}`), { headers: { 'x-fleetcast-subnet': 'everything' } });
  assert.equal(res.status, 400);
  assert.match(((await res.json()) as { message: string }).message, /x-fleetcast-subnet/);
});

test('health: live, and ready only while the store is writable', async () => {
  const live = (await request(origin.baseUrl).get('/healthz').expect(200)).body;
  assert.equal(live.status, 'ok');
  assert.equal(live.service, 'origin');
  const ready = (await request(origin.baseUrl).get('/readyz').expect(200)).body;
  assert.equal(ready.status, 'ready');
  assert.deepEqual(ready.checks, { store: 'ok' });
  // Running as root ignores permission bits, so make tmp/ unusable by putting a file in its place.
  const tmp = join(origin.storeDir, 'tmp');
  await rmdir(tmp);
  await writeFile(tmp, '');
  try {
    const res = await request(origin.baseUrl).get('/readyz').expect(503);
    assert.equal(res.body.status, 'not-ready');
    assert.match(res.body.checks.store, /content store is not writable/);
  } finally {
    await rm(tmp);
    await mkdir(tmp);
  }
  await request(origin.baseUrl).get('/readyz').expect(200);
});

test('auth: with API tokens, writes need a bearer token and downloads stay open', async () => {
  const guarded = await startOrigin({ API_TOKENS: 'first-token,second-token' });
  try {
    const body = randomBytes(1000);
    for (const authorization of [undefined, 'Bearer wrong', 'Basic first-token', 'Bearer first-token-x']) {
      const result = await send(guarded.baseUrl + '/v1/content', 'PUT', body, authorization ? { authorization } : {});
      assert.equal(result.status, 401, String(authorization));
      assert.equal(json(result).code, 'AUTH.UNAUTHORIZED');
    }
    assert.deepEqual(await listFiles(guarded.storeDir), []);
    const stored = await send(guarded.baseUrl + '/v1/content', 'PUT', body, { authorization: 'Bearer second-token' });
    assert.equal(stored.status, 201);
    const download = await fetch(`${guarded.baseUrl}/v1/content/${String(json(stored).contentId)}`);
    assert.equal(download.status, 200);
    assert.ok(Buffer.from(await download.arrayBuffer()).equals(body));
    await request(guarded.baseUrl).get('/v1/stats/bytes-served').expect(200);
    await request(guarded.baseUrl).delete('/v1/stats/bytes-served').expect(401);
    await request(guarded.baseUrl).delete('/v1/stats/bytes-served').set('authorization', 'Bearer first-token').expect(200);
  } finally {
    await guarded.close();
  }
});

test('download tokens: with a secret, only a device holding a valid token for that content is served, and counted as itself', async () => {
  const secret = randomBytes(32);
  const guarded = await startOrigin({ DOWNLOAD_TOKEN_SECRET: secret.toString('base64') });
  try {
    const body = randomBytes(5000);
    const stored = await send(guarded.baseUrl + '/v1/content', 'PUT', body);
    assert.equal(stored.status, 201);
    const contentId = String(json(stored).contentId);
    const inAnHour = new Date(Date.now() + 3600_000);
    const valid = issueDownloadToken(secret, { deviceId: 'dev-token', contentId, expiresAt: inAnHour });
    const refusals: Array<[string, Record<string, string>, RegExp]> = [
      ['no token', {}, /need a download token/],
      ['another secret', { authorization: `Bearer ${issueDownloadToken(randomBytes(32), { deviceId: 'dev-token', contentId, expiresAt: inAnHour })}` }, /bad signature/],
      ['other content', { authorization: `Bearer ${issueDownloadToken(secret, { deviceId: 'dev-token', contentId: unknownId, expiresAt: inAnHour })}` }, /not this one/],
      ['expired', { authorization: `Bearer ${issueDownloadToken(secret, { deviceId: 'dev-token', contentId, expiresAt: new Date(Date.now() - 1000) })}` }, /expired/],
    ];
    for (const [what, headers, reason] of refusals) {
      const res = await fetch(`${guarded.baseUrl}/v1/content/${contentId}`, { headers });
      assert.equal(res.status, 401, what);
      const error = (await res.json()) as { code: string; message: string };
      assert.equal(error.code, 'ORIGIN.DOWNLOAD_UNAUTHORIZED', what);
      assert.match(error.message, reason, what);
    }
    // A valid token: served; the bytes count against the device the token names, not the one a header claims.
    const res = await fetch(`${guarded.baseUrl}/v1/content/${contentId}`, { headers: { authorization: `Bearer ${valid}`, 'x-fleetcast-device': 'someone-else', range: 'bytes=0-999' } });
    assert.equal(res.status, 206);
    assert.equal((await res.arrayBuffer()).byteLength, 1000);
    await waitFor('the bytes to be counted', async () => (await request(guarded.baseUrl).get('/v1/stats/bytes-served')).body.total === 1000);
    assert.deepEqual((await request(guarded.baseUrl).get('/v1/stats/bytes-served')).body.byDevice, { 'dev-token': 1000 });
    // The block hashes stay readable: the tasks service signs manifests over them.
    await request(guarded.baseUrl).get(`/v1/content/${contentId}/blocks`).expect(200);
  } finally {
    await guarded.close();
  }
});
