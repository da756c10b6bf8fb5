import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * What an agent's cache holds of one content, read from its files the way the agent leaves them
 * (see the agent's content cache): `content/<sha256>` once complete, else the verified-block record
 * `partial/<sha256>.blocks` next to the `.part` file. The agent writes a block and flushes it before
 * the record names it, so the record never claims more than the agent holds; it is read here
 * without the agent's code, as a lab test sees a device from outside.
 */
export type CachedContent =
  | { complete: true; size: number }
  | {
      complete: false;
      size: number;
      blockSize: number;
      blockCount: number;
      /** Verified block indexes, ascending. */
      blocks: number[];
    };

/** The record's shape (version 1): the fields a lab test needs. */
interface BlocksRecord {
  version: number;
  size: number;
  blockSize: number;
  /** Bitmap of verified blocks, bit i of byte i>>3 (least significant first), base64. */
  verified: string;
}

/** What the cache at `cacheDir` holds of `contentId`, verified; null when it holds nothing of it. */
export async function cachedContentOf(cacheDir: string, contentId: string): Promise<CachedContent | null> {
  const complete = await stat(join(cacheDir, 'content', contentId)).catch(() => null);
  if (complete !== null) return { complete: true, size: complete.size };
  let record: BlocksRecord;
  try {
    record = JSON.parse(await readFile(join(cacheDir, 'partial', `${contentId}.blocks`), 'utf8')) as BlocksRecord;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  if (record.version !== 1) throw new Error(`${contentId}.blocks: record version ${record.version}, this reader knows 1`);
  const bitmap = Buffer.from(record.verified, 'base64');
  const blockCount = Math.ceil(record.size / record.blockSize);
  const blocks: number[] = [];
  for (let i = 0; i < blockCount; i++) if ((bitmap[i >> 3]! & (1 << (i & 7))) !== 0) blocks.push(i);
  return { complete: false, size: record.size, blockSize: record.blockSize, blockCount, blocks };
}

/** Bytes of the given blocks of a content of `size` in blocks of `blockSize` (the last block may be short). */
export function bytesOfBlocks(blocks: Iterable<number>, size: number, blockSize: number): number {
  let bytes = 0;
  for (const i of blocks) bytes += Math.max(0, Math.min(blockSize, size - i * blockSize));
  return bytes;
}
