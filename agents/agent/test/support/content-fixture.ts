import { mkdtemp, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlockHasher, blockRange, Manifest } from '@fleetcast/content';
import type { ContentCache } from '../../src/adapters/content-cache';

/**
 * Block size of test content: small so that a file of a few hundred KiB has many blocks, and odd
 * total sizes give a short last block; the production size (1 MiB) changes nothing in the logic.
 */
export const TEST_BLOCK_SIZE = 16 * 1024;

export interface ContentFixture {
  data: Buffer;
  manifest: Manifest;
}

/** Random content of `size` bytes and its manifest. */
export function makeContent(size: number, blockSize = TEST_BLOCK_SIZE): ContentFixture {
  const data = randomBytes(size);
  const hasher = new BlockHasher(blockSize);
  hasher.update(data);
  return { data, manifest: hasher.finish() };
}

/** A fresh temporary directory, removed by the returned function. */
export async function tempDir(prefix: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `fleetcast-${prefix}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Puts the whole of `content` in `cache` as a download would (every block verified), completed. */
export async function fillCache(cache: ContentCache, content: ContentFixture): Promise<void> {
  const partial = await cache.openPartial(content.manifest);
  for (const i of partial.missingBlocks()) {
    const { start, end } = blockRange(content.manifest, i);
    await partial.writeBlock(i, content.data.subarray(start, end));
  }
  await partial.complete();
}
