import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { open, readFile, readdir, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Manifest, blockRange } from '@fleetcast/content';
import { AgentErrorCode } from '../src/core/agent-errors';
import {
  BlockRejectedError,
  ContentCache,
  ContentHashMismatchError,
  ContentNotCachedError,
  IncompleteContentError,
  InvalidContentIdError,
  ManifestInconsistentError,
} from '../src/adapters/content-cache';
import { TEST_BLOCK_SIZE, makeContent, tempDir } from './support/content-fixture';

const BS = TEST_BLOCK_SIZE;
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const cleanup of cleanups) await cleanup();
});

async function freshCache(): Promise<{ cache: ContentCache; dir: string }> {
  const { dir, remove } = await tempDir('cache');
  cleanups.push(remove);
  return { cache: await ContentCache.open(dir), dir };
}

function block(data: Buffer, manifest: Manifest, index: number): Buffer {
  const { start, end } = blockRange(manifest, index);
  return data.subarray(start, end);
}

async function writeAll(cache: ContentCache, data: Buffer, manifest: Manifest): Promise<void> {
  const partial = await cache.openPartial(manifest);
  for (const i of partial.missingBlocks()) await partial.writeBlock(i, block(data, manifest, i));
}

test('cache: a bad block is refused with BLOCK_REJECTED and nothing is written', async () => {
  const { cache, dir } = await freshCache();
  const { data, manifest } = makeContent(3 * BS + 10);
  const partial = await cache.openPartial(manifest);
  await partial.writeBlock(0, block(data, manifest, 0));
  const before = await readFile(join(dir, 'partial', `${manifest.contentId}.part`));

  const bad = Buffer.from(block(data, manifest, 1));
  bad[100]! ^= 1;
  const rejected = (e: unknown) => e instanceof BlockRejectedError && e.code === AgentErrorCode.CacheBlockRejected;
  await assert.rejects(partial.writeBlock(1, bad), rejected);
  await assert.rejects(partial.writeBlock(1, block(data, manifest, 2)), rejected, 'another block of the same file at the wrong index');
  await assert.rejects(partial.writeBlock(3, block(data, manifest, 3).subarray(1)), rejected, 'a short last block');
  await assert.rejects(partial.writeBlock(4, Buffer.alloc(1)), rejected, 'out of range');
  await assert.rejects(partial.writeBlock(-1, Buffer.alloc(1)), rejected);

  assert.ok((await readFile(join(dir, 'partial', `${manifest.contentId}.part`))).equals(before), '.part unchanged');
  assert.deepEqual(partial.missingBlocks(), [1, 2, 3]);
  assert.equal(partial.verifiedBytes, BS);
});

test('cache: verified blocks survive a restart (a new cache object over the same folder)', async () => {
  const { cache, dir } = await freshCache();
  const { data, manifest } = makeContent(5 * BS);
  const partial = await cache.openPartial(manifest);
  await partial.writeBlock(0, block(data, manifest, 0));
  await partial.writeBlock(3, block(data, manifest, 3));
  await partial.writeBlock(3, block(data, manifest, 3)); // a repeat is harmless

  const reopened = await (await ContentCache.open(dir)).openPartial(manifest);
  assert.deepEqual(reopened.missingBlocks(), [1, 2, 4]);
  for (const i of reopened.missingBlocks()) await reopened.writeBlock(i, block(data, manifest, i));
  const path = await reopened.complete();
  assert.ok((await readFile(path)).equals(data));
});

test('cache: completing moves the verified file into content/ and cleans partial/', async () => {
  const { cache, dir } = await freshCache();
  const { data, manifest } = makeContent(4 * BS + 1);
  assert.equal(await cache.has(manifest.contentId), false);
  await writeAll(cache, data, manifest);
  const partial = await cache.openPartial(manifest);
  const path = await partial.complete();
  assert.equal(path, cache.path(manifest.contentId));
  assert.equal(path, join(dir, 'content', manifest.contentId));
  assert.equal(await partial.complete(), path, 'completing twice returns the same path');
  assert.equal(await cache.has(manifest.contentId), true);
  assert.deepEqual(await cache.list(), [manifest.contentId]);
  assert.deepEqual(await readdir(join(dir, 'partial')), []);
  assert.equal(createHash('sha256').update(await readFile(path)).digest('hex'), manifest.contentId);
});

test('cache: blocks written concurrently are all recorded', async () => {
  const { cache, dir } = await freshCache();
  const { data, manifest } = makeContent(12 * BS + 7);
  const partial = await cache.openPartial(manifest);
  await Promise.all(partial.missingBlocks().map((i) => partial.writeBlock(i, block(data, manifest, i))));
  const reopened = await (await ContentCache.open(dir)).openPartial(manifest);
  assert.deepEqual(reopened.missingBlocks(), []);
});

test('cache: completing before every block is there fails with CACHE.INCOMPLETE', async () => {
  const { cache } = await freshCache();
  const { data, manifest } = makeContent(3 * BS);
  const partial = await cache.openPartial(manifest);
  await partial.writeBlock(1, block(data, manifest, 1));
  await assert.rejects(partial.complete(), (e: unknown) => e instanceof IncompleteContentError && e.code === AgentErrorCode.CacheIncomplete && e.missing === 2);
  assert.equal(await cache.has(manifest.contentId), false);
});

test('cache: bytes damaged on disk after verification are caught at completion and fetched again', async () => {
  const { cache, dir } = await freshCache();
  const { data, manifest } = makeContent(4 * BS);
  await writeAll(cache, data, manifest);
  // Something (a disk fault, another program) changes a byte of block 2 in the .part.
  const handle = await open(join(dir, 'partial', `${manifest.contentId}.part`), 'r+');
  await handle.write(Buffer.from([data[2 * BS + 9]! ^ 0xff]), 0, 1, 2 * BS + 9);
  await handle.close();

  const partial = await cache.openPartial(manifest);
  await assert.rejects(partial.complete(), (e: unknown) => e instanceof ContentHashMismatchError && e.code === AgentErrorCode.CacheHashMismatch && e.badBlocks.join() === '2');
  assert.equal(await cache.has(manifest.contentId), false, 'nothing bad lands in content/');
  assert.deepEqual(partial.missingBlocks(), [2]);
  await partial.writeBlock(2, block(data, manifest, 2));
  assert.ok((await readFile(await partial.complete())).equals(data));
});

test('cache: a record naming blocks beyond the end of the .part forgets them on reopen', async () => {
  const { cache, dir } = await freshCache();
  const { data, manifest } = makeContent(4 * BS);
  await writeAll(cache, data, manifest);
  await truncate(join(dir, 'partial', `${manifest.contentId}.part`), 2 * BS + 5);
  const reopened = await (await ContentCache.open(dir)).openPartial(manifest);
  assert.deepEqual(reopened.missingBlocks(), [2, 3]);
});

test('cache: an unreadable block record means starting over, not trusting the .part', async () => {
  const { cache, dir } = await freshCache();
  const { data, manifest } = makeContent(3 * BS);
  await writeAll(cache, data, manifest);
  await writeFile(join(dir, 'partial', `${manifest.contentId}.blocks`), '{"version":1, "trunc');
  const reopened = await (await ContentCache.open(dir)).openPartial(manifest);
  assert.deepEqual(reopened.missingBlocks(), [0, 1, 2]);
  assert.equal((await stat(join(dir, 'partial', `${manifest.contentId}.part`))).size, 0);
});

test('cache: a manifest whose blocks match but whose content ID does not is refused, the partial dropped', async () => {
  const { cache, dir } = await freshCache();
  const { data, manifest } = makeContent(2 * BS);
  const lying: Manifest = { ...manifest, contentId: 'f'.repeat(64) };
  await writeAll(cache, data, lying);
  const partial = await cache.openPartial(lying);
  await assert.rejects(partial.complete(), (e: unknown) => e instanceof ManifestInconsistentError && e.code === AgentErrorCode.CacheManifestInconsistent);
  assert.deepEqual(await cache.list(), []);
  assert.deepEqual(await readdir(join(dir, 'partial')), []);
});

test('cache: empty content completes to an empty file', async () => {
  const { cache } = await freshCache();
  const { manifest } = makeContent(0);
  const partial = await cache.openPartial(manifest);
  assert.deepEqual(partial.missingBlocks(), []);
  const path = await partial.complete();
  assert.equal((await stat(path)).size, 0);
});

test('cache: anything but a content ID is refused before it becomes a path', async () => {
  const { cache } = await freshCache();
  for (const id of ['../../etc/passwd', 'A'.repeat(64), 'abc', '']) {
    assert.throws(() => cache.path(id), (e: unknown) => e instanceof InvalidContentIdError && e.code === AgentErrorCode.CacheInvalidContentId, id);
    await assert.rejects(cache.has(id), InvalidContentIdError);
  }
});

test('cache: list ignores stray files; stale temp files from a crash are removed at open', async () => {
  const { cache, dir } = await freshCache();
  const { data, manifest } = makeContent(BS);
  await writeAll(cache, data, manifest);
  await (await cache.openPartial(manifest)).complete();
  await writeFile(join(dir, 'content', 'README'), 'not content');
  await writeFile(join(dir, 'partial', `${'a'.repeat(64)}.blocks.tmp-123-abcd`), '{');
  const reopened = await ContentCache.open(dir);
  assert.deepEqual(await reopened.list(), [manifest.contentId]);
  assert.deepEqual(await readdir(join(dir, 'partial')), []);
});

test('cache: touch marks use, evict removes, both refuse unknown content sensibly', async () => {
  const { cache, dir } = await freshCache();
  const { data, manifest } = makeContent(BS + 3);
  await writeAll(cache, data, manifest);
  const path = await (await cache.openPartial(manifest)).complete();
  const old = new Date('2020-01-01T00:00:00Z');
  await utimes(path, old, old);
  await cache.touch(manifest.contentId);
  assert.ok((await stat(path)).mtimeMs > old.getTime());
  await assert.rejects(cache.touch('b'.repeat(64)), (e: unknown) => e instanceof ContentNotCachedError && e.code === AgentErrorCode.CacheNotCached);

  assert.equal(await cache.evict(manifest.contentId), true);
  assert.equal(await cache.has(manifest.contentId), false);
  assert.equal(await cache.evict(manifest.contentId), false);

  // A partial being written in this process is left alone; one that is not, goes.
  const other = makeContent(2 * BS);
  const open = await cache.openPartial(other.manifest);
  await open.writeBlock(0, block(other.data, other.manifest, 0));
  assert.equal(await cache.evict(other.manifest.contentId), false);
  assert.deepEqual(open.missingBlocks(), [1]);
  const restarted = await ContentCache.open(dir);
  assert.equal(await restarted.evict(other.manifest.contentId), true);
  assert.deepEqual(await readdir(join(dir, 'partial')), []);
});

test('cache: free bytes come from the file system', async () => {
  const { cache } = await freshCache();
  const free = await cache.freeBytes();
  assert.ok(Number.isSafeInteger(free) && free > 0, String(free));
});
