import { createHash } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm, stat, statfs, truncate, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { FleetcastError, sha256HexSchema } from '@fleetcast/contracts';
import { Manifest, blockCount, blockRange, manifestShapeError, verifyBlock } from '@fleetcast/content';
import { AgentErrorCode } from '../core/agent-errors';
import type { HeldRange } from '../core/block-ranges';
import { removeStaleTempFiles, syncDirectory, writeFileAtomic } from './atomic-file';

/**
 * The local distribution cache, content-addressed:
 *
 *   <cacheDir>/content/<sha256>          complete files, verified block by block and as a whole
 *   <cacheDir>/partial/<sha256>.part     a download in progress, blocks written at their offsets
 *   <cacheDir>/partial/<sha256>.blocks   which blocks of the .part are verified (JSON, replaced atomically)
 *
 * A block is written to the .part and flushed before the .blocks record names it, so after a crash
 * or power loss the record never claims a block that is not on disk, and a restarted agent fetches
 * only what is missing. A file appears in content/ only by an atomic rename after its whole-file
 * SHA-256 equals its content ID, so anything in content/ can be installed or served to peers.
 *
 * Size limits and LRU eviction are policy (issue 3); this class offers `touch` and `evict` for it.
 */

const CONTENT_DIR = 'content';
const PARTIAL_DIR = 'partial';
const PART_SUFFIX = '.part';
const BLOCKS_SUFFIX = '.blocks';
const BLOCKS_RECORD_VERSION = 1;

const blocksRecordSchema = z.object({
  version: z.literal(BLOCKS_RECORD_VERSION),
  contentId: sha256HexSchema,
  size: z.number().int().nonnegative(),
  blockSize: z.number().int().positive(),
  /** Bitmap of verified blocks, bit i of byte i>>3 (least significant first), base64. */
  verified: z.string(),
});
type BlocksRecord = z.infer<typeof blocksRecordSchema>;

/** What a cache holds of one content, verified, as blocks of one size (see `heldBlocks`). */
export interface HeldBlocks {
  size: number;
  blockSize: number;
  blockCount: number;
  /** The whole file is in content/. */
  complete: boolean;
  /** Held block indexes, ascending. */
  blocks: number[];
}

/** What a cache holds of one content as runs of blocks of one size (see `heldRanges`). */
export interface HeldRanges {
  size: number;
  blockSize: number;
  blockCount: number;
  /** The whole file is in content/. */
  complete: boolean;
  /** Runs of held blocks, ascending; at most the `maxRanges` asked for. */
  ranges: HeldRange[];
  /** More runs were held than `maxRanges`: `ranges` is the first part. */
  truncated: boolean;
}

export class InvalidContentIdError extends FleetcastError {
  constructor(contentId: string) {
    super(AgentErrorCode.CacheInvalidContentId, `"${contentId.slice(0, 80)}" is not a content ID (64 lowercase hex characters)`);
    this.name = 'InvalidContentIdError';
  }
}

/** A block that does not match the manifest (or is out of range); nothing was written. */
export class BlockRejectedError extends FleetcastError {
  constructor(
    readonly contentId: string,
    readonly index: number,
    reason: string,
  ) {
    super(AgentErrorCode.CacheBlockRejected, `block ${index} of ${contentId} rejected: ${reason}`);
    this.name = 'BlockRejectedError';
  }
}

export class IncompleteContentError extends FleetcastError {
  constructor(
    readonly contentId: string,
    readonly missing: number,
  ) {
    super(AgentErrorCode.CacheIncomplete, `${contentId} is missing ${missing} block(s)`);
    this.name = 'IncompleteContentError';
  }
}

/**
 * The file on disk did not hash to its content ID; the blocks that failed their own hash are no
 * longer counted as verified (`badBlocks`), so fetching the missing blocks again repairs it.
 */
export class ContentHashMismatchError extends FleetcastError {
  constructor(
    readonly contentId: string,
    readonly badBlocks: readonly number[],
  ) {
    super(AgentErrorCode.CacheHashMismatch, `${contentId} failed its whole-file check; ${badBlocks.length} block(s) on disk no longer match and must be fetched again`);
    this.name = 'ContentHashMismatchError';
  }
}

/** Every block matches the manifest but the whole does not match the content ID: the manifest is wrong. */
export class ManifestInconsistentError extends FleetcastError {
  constructor(readonly contentId: string) {
    super(AgentErrorCode.CacheManifestInconsistent, `every block of ${contentId} matches the manifest but the file does not hash to the content ID`);
    this.name = 'ManifestInconsistentError';
  }
}

export class ContentNotCachedError extends FleetcastError {
  constructor(readonly contentId: string) {
    super(AgentErrorCode.CacheNotCached, `${contentId} is not in the cache`);
    this.name = 'ContentNotCachedError';
  }
}

function assertContentId(contentId: string): void {
  if (!sha256HexSchema.safeParse(contentId).success) throw new InvalidContentIdError(contentId);
}

export class ContentCache {
  private readonly open = new Map<string, Promise<PartialContent>>();

  private constructor(readonly cacheDir: string) {}

  /** Opens (and creates) the cache folder; removes temporary files a crash left behind. */
  static async open(cacheDir: string): Promise<ContentCache> {
    const cache = new ContentCache(cacheDir);
    for (const dir of [cache.contentDir, cache.partialDir]) {
      await mkdir(dir, { recursive: true });
      await removeStaleTempFiles(dir);
    }
    return cache;
  }

  private get contentDir(): string {
    return join(this.cacheDir, CONTENT_DIR);
  }

  private get partialDir(): string {
    return join(this.cacheDir, PARTIAL_DIR);
  }

  /** Where a complete file lives (whether or not it is there yet). Throws for anything but a content ID. */
  path(contentId: string): string {
    assertContentId(contentId);
    return join(this.contentDir, contentId);
  }

  async has(contentId: string): Promise<boolean> {
    try {
      return (await stat(this.path(contentId))).isFile();
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  /** Content IDs of the complete files, sorted. */
  async list(): Promise<string[]> {
    const names = await readdir(this.contentDir);
    return names.filter((n) => sha256HexSchema.safeParse(n).success).sort();
  }

  /** Complete files with their size and last use, for the eviction policy. */
  async entries(): Promise<Array<{ contentId: string; size: number; lastUsedMs: number }>> {
    const out = [];
    for (const contentId of await this.list()) {
      try {
        const s = await stat(this.path(contentId));
        out.push({ contentId, size: s.size, lastUsedMs: s.mtimeMs });
      } catch (error) {
        if (!isNotFound(error)) throw error; // evicted meanwhile
      }
    }
    return out;
  }

  /** Bytes available to the agent on the cache's file system (what an unprivileged writer may use). */
  async freeBytes(): Promise<number> {
    const fs = await statfs(this.cacheDir);
    return Number(fs.bavail) * Number(fs.bsize);
  }

  /** Marks content as just used (its modification time), for the eviction policy. */
  async touch(contentId: string): Promise<void> {
    const now = new Date();
    try {
      await utimes(this.path(contentId), now, now);
    } catch (error) {
      if (isNotFound(error)) throw new ContentNotCachedError(contentId);
      throw error;
    }
  }

  /**
   * Removes a complete file and any partial download of it that is not open in this process.
   * Returns whether anything was removed. A partial open for writing is left alone: the policy
   * must not pull a file from under a running download.
   */
  async evict(contentId: string): Promise<boolean> {
    const target = this.path(contentId);
    let removed = await removeIfPresent(target);
    if (!this.open.has(contentId)) {
      removed = (await removeIfPresent(this.partPath(contentId))) || removed;
      removed = (await removeIfPresent(this.blocksPath(contentId))) || removed;
    }
    return removed;
  }

  /**
   * Removes the partial download of a content, also while it is open in this process (a cancelled
   * task's download that was aborted): the open partial is discarded first, so that a write still
   * under way lands nowhere and the next download of the content starts afresh. A complete file is
   * left alone (it is verified content, the cache's to keep or evict). Returns whether anything was removed.
   */
  async discardPartial(contentId: string): Promise<boolean> {
    const open = await this.openPartialOf(contentId);
    if (open !== null) await open.discard();
    const part = await removeIfPresent(this.partPath(contentId));
    const blocks = await removeIfPresent(this.blocksPath(contentId));
    return part || blocks;
  }

  /**
   * Opens the partial download of a manifest's content, resuming whatever earlier runs verified.
   * One object per content ID per cache: two tasks for the same package share it.
   */
  async openPartial(manifest: Manifest): Promise<PartialContent> {
    const shape = manifestShapeError(manifest);
    if (shape !== null) throw new BlockRejectedError(manifest.contentId, -1, `manifest is malformed: ${shape}`);
    const existing = this.open.get(manifest.contentId);
    if (existing) {
      const partial = await existing;
      if (partial.manifest.blockSize !== manifest.blockSize || partial.manifest.size !== manifest.size) {
        throw new BlockRejectedError(manifest.contentId, -1, 'a download of this content with another block layout is open');
      }
      return partial;
    }
    const opening = PartialContent.load(manifest, this.partPath(manifest.contentId), this.blocksPath(manifest.contentId), this.path(manifest.contentId), () =>
      this.open.delete(manifest.contentId),
    );
    this.open.set(manifest.contentId, opening);
    opening.catch(() => this.open.delete(manifest.contentId));
    return opening;
  }

  /**
   * What this cache holds of a content, verified, cut into blocks of `blockSize` (what a peer asks
   * for): every block of a complete file; the verified blocks of a partial download open in this
   * process, when it uses that block size. Null when neither. A partial that is not open (an agent
   * restarted and not yet resumed) is not offered: only an open one knows its blocks for certain.
   */
  async heldBlocks(contentId: string, blockSize: number): Promise<HeldBlocks | null> {
    assertContentId(contentId);
    if (!Number.isSafeInteger(blockSize) || blockSize < 1) throw new RangeError(`block size must be a positive integer, got ${blockSize}`);
    try {
      const size = (await stat(this.path(contentId))).size;
      const count = blockCount(size, blockSize);
      return { size, blockSize, blockCount: count, complete: true, blocks: Array.from({ length: count }, (_, i) => i) };
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    const partial = await this.openPartialOf(contentId);
    if (partial === null || partial.manifest.blockSize !== blockSize) return null;
    const blocks: number[] = [];
    for (let i = 0; i < partial.blockCount; i++) if (partial.has(i)) blocks.push(i);
    return { size: partial.manifest.size, blockSize, blockCount: partial.blockCount, complete: false, blocks };
  }

  /**
   * What this cache holds of a content at `blockSize`, as runs of blocks, the first `maxRanges` of
   * them: what a peer server answers with. A complete file is one run whatever its size; a partial
   * download (open in this process, at that block size) is walked once over its block bitmap. Work
   * and memory are bounded by the block count and `maxRanges`, never by the bytes held. Null when
   * neither is held.
   */
  async heldRanges(contentId: string, blockSize: number, maxRanges: number): Promise<HeldRanges | null> {
    assertContentId(contentId);
    if (!Number.isSafeInteger(blockSize) || blockSize < 1) throw new RangeError(`block size must be a positive integer, got ${blockSize}`);
    try {
      const size = (await stat(this.path(contentId))).size;
      const count = blockCount(size, blockSize);
      const ranges = count === 0 ? [] : [{ first: 0, count }];
      return { size, blockSize, blockCount: count, complete: true, ranges: ranges.slice(0, maxRanges), truncated: ranges.length > maxRanges };
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    const partial = await this.openPartialOf(contentId);
    if (partial === null || partial.manifest.blockSize !== blockSize) return null;
    const ranges: HeldRange[] = [];
    let truncated = false;
    for (let i = 0; i < partial.blockCount; i++) {
      if (!partial.has(i)) continue;
      const last = ranges[ranges.length - 1];
      if (last !== undefined && last.first + last.count === i) {
        last.count += 1;
      } else if (ranges.length < maxRanges) {
        ranges.push({ first: i, count: 1 });
      } else {
        truncated = true;
        break;
      }
    }
    return { size: partial.manifest.size, blockSize, blockCount: partial.blockCount, complete: false, ranges, truncated };
  }

  /**
   * The bytes of one block, for a peer: from the complete file, or from an open partial download
   * only if the block is recorded verified (and, for a block an earlier run recorded, still matches
   * the manifest as read: see PartialContent.readVerifiedBlock). Null when the block is not held
   * (or the content went away meanwhile); never unverified bytes.
   */
  async readVerifiedBlock(contentId: string, index: number, blockSize: number): Promise<Buffer | null> {
    assertContentId(contentId);
    if (!Number.isSafeInteger(blockSize) || blockSize < 1) throw new RangeError(`block size must be a positive integer, got ${blockSize}`);
    if (!Number.isInteger(index) || index < 0) return null;
    let size: number | null = null;
    try {
      size = (await stat(this.path(contentId))).size;
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    if (size !== null) {
      if (index >= blockCount(size, blockSize)) return null;
      // content/ holds only files whose whole SHA-256 equals their ID: any slice of one is good.
      const data = await readExactly(this.path(contentId), blockRange({ size, blockSize }, index));
      if (data !== null) return data;
    }
    const partial = await this.openPartialOf(contentId);
    if (partial === null || partial.manifest.blockSize !== blockSize) return null;
    return partial.readVerifiedBlock(index);
  }

  /** The partial download of a content open in this process, if any. */
  private async openPartialOf(contentId: string): Promise<PartialContent | null> {
    const opening = this.open.get(contentId);
    if (!opening) return null;
    try {
      return await opening;
    } catch {
      return null;
    }
  }

  private partPath(contentId: string): string {
    assertContentId(contentId);
    return join(this.partialDir, contentId + PART_SUFFIX);
  }

  private blocksPath(contentId: string): string {
    assertContentId(contentId);
    return join(this.partialDir, contentId + BLOCKS_SUFFIX);
  }
}

/** A download in progress: verified blocks go in at their offsets; `complete` moves the file into content/. */
export class PartialContent {
  private readonly verified: Uint8Array;
  /**
   * Blocks this object verified against the manifest and wrote itself (a subset of `verified`):
   * served without hashing them again. Blocks a record of an earlier run names are hashed as read.
   */
  private readonly writtenHere: Uint8Array;
  private verifiedCount = 0;
  /** Writes and completion run one at a time: the .blocks record is rewritten whole each time. */
  private queue: Promise<unknown> = Promise.resolve();
  private completedPath: string | null = null;
  /** Dropped by a cancelled task (`discard`): nothing is written or completed any more. */
  private discarded = false;

  private constructor(
    readonly manifest: Manifest,
    readonly partPath: string,
    private readonly blocksPath: string,
    private readonly contentPath: string,
    private readonly onClosed: () => void,
    verified: Uint8Array,
  ) {
    this.verified = verified;
    this.writtenHere = new Uint8Array(verified.length);
    for (let i = 0; i < this.blockCount; i++) if (this.has(i)) this.verifiedCount += 1;
  }

  static async load(manifest: Manifest, partPath: string, blocksPath: string, contentPath: string, onClosed: () => void): Promise<PartialContent> {
    const blocks = blockCount(manifest.size, manifest.blockSize);
    const fresh = new Uint8Array(Math.ceil(blocks / 8));
    const record = await readBlocksRecord(blocksPath);
    let partSize: number | null = null;
    try {
      partSize = (await stat(partPath)).size;
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    const sameLayout =
      record !== null &&
      record.contentId === manifest.contentId &&
      record.size === manifest.size &&
      record.blockSize === manifest.blockSize &&
      Buffer.from(record.verified, 'base64').length === fresh.length;
    const usable = sameLayout && partSize !== null;
    let verified = fresh;
    if (usable && partSize !== null) {
      const onDisk = partSize;
      verified = new Uint8Array(Buffer.from(record.verified, 'base64'));
      // A block the record names but the file is too short to hold cannot be on disk: forget it.
      for (let i = 0; i < blocks; i++) {
        if ((verified[i >> 3]! & (1 << (i & 7))) !== 0 && blockRange(manifest, i).end > onDisk) verified[i >> 3]! &= ~(1 << (i & 7));
      }
    } else {
      // No usable record: nothing in the .part can be trusted, start it over.
      const handle = await open(partPath, 'w');
      await handle.close();
    }
    const partial = new PartialContent(manifest, partPath, blocksPath, contentPath, onClosed, verified);
    if (!usable) await partial.saveRecord();
    return partial;
  }

  get contentId(): string {
    return this.manifest.contentId;
  }

  get blockCount(): number {
    return blockCount(this.manifest.size, this.manifest.blockSize);
  }

  has(index: number): boolean {
    return Number.isInteger(index) && index >= 0 && index < this.blockCount && (this.verified[index >> 3]! & (1 << (index & 7))) !== 0;
  }

  /** Indexes of the blocks still to fetch, ascending. */
  missingBlocks(): number[] {
    const missing: number[] = [];
    for (let i = 0; i < this.blockCount; i++) if (!this.has(i)) missing.push(i);
    return missing;
  }

  /** Bytes of verified blocks on disk. */
  get verifiedBytes(): number {
    let total = 0;
    for (let i = 0; i < this.blockCount; i++) {
      if (!this.has(i)) continue;
      const { start, end } = blockRange(this.manifest, i);
      total += end - start;
    }
    return total;
  }

  /**
   * Reads a verified block back (for a peer): null unless the block is recorded verified. A block
   * this object verified and wrote is served as read, as a complete file's are: it was hashed
   * against the manifest before it was written, and it is recorded only once on disk, so no read
   * can see it half written; a completion racing the read finds the bytes in content/ (verified
   * whole). Hashing it again cost ~0.7 ms of CPU a MiB for every block a swarm device served, most
   * of them from its open download. A block that an earlier run recorded (a resumed download) is
   * hashed as read: this process never saw its bytes.
   */
  async readVerifiedBlock(index: number): Promise<Buffer | null> {
    if (!this.has(index)) return null;
    const range = blockRange(this.manifest, index);
    // After completion the bytes live in content/; a rename may land between the two reads.
    let data = await readExactly(this.completedPath ?? this.partPath, range);
    if (data === null) data = await readExactly(this.contentPath, range);
    if (data === null) return null;
    if ((this.writtenHere[index >> 3]! & (1 << (index & 7))) !== 0) return data;
    return verifyBlock(this.manifest, index, data) ? data : null;
  }

  /**
   * Writes one block after checking it against the manifest; a block that does not match is refused
   * with BlockRejectedError and nothing is written. A block already held is accepted and ignored.
   */
  writeBlock(index: number, data: Uint8Array): Promise<void> {
    if (!Number.isInteger(index) || index < 0 || index >= this.blockCount) {
      return Promise.reject(new BlockRejectedError(this.contentId, index, `index out of range 0..${this.blockCount - 1}`));
    }
    if (!verifyBlock(this.manifest, index, data)) {
      return Promise.reject(new BlockRejectedError(this.contentId, index, 'SHA-256 does not match the manifest'));
    }
    return this.serialize(async () => {
      if (this.completedPath !== null || this.discarded || this.has(index)) return;
      const { start } = blockRange(this.manifest, index);
      const handle = await open(this.partPath, 'r+');
      try {
        await handle.write(data, 0, data.length, start);
        // On disk before the record names it: see the class comment.
        await handle.datasync();
      } finally {
        await handle.close();
      }
      this.verified[index >> 3]! |= 1 << (index & 7);
      this.writtenHere[index >> 3]! |= 1 << (index & 7);
      this.verifiedCount += 1;
      await this.saveRecord();
    });
  }

  /**
   * Checks the whole file and moves it into content/; returns its path there. Reads the file and
   * hashes the whole: if it does not match the content ID, reads it again hashing each block, and
   * blocks that no longer match (the disk changed under us) are un-verified and
   * ContentHashMismatchError says so. Every block was verified as it was written, so the second pass
   * is for the rare file that changed; hashing every block on the way, as before, cost a second
   * SHA-256 of the content on every completion (0.7 ms a MiB here).
   */
  complete(): Promise<string> {
    return this.serialize(async () => {
      if (this.completedPath !== null) return this.completedPath;
      if (this.discarded) throw new IncompleteContentError(this.contentId, this.blockCount);
      if (this.verifiedCount < this.blockCount) throw new IncompleteContentError(this.contentId, this.blockCount - this.verifiedCount);
      await truncate(this.partPath, this.manifest.size);
      const whole = createHash('sha256');
      await this.readBlocks((_, data) => whole.update(data));
      if (whole.digest('hex') !== this.contentId) {
        const bad: number[] = [];
        await this.readBlocks((i, data) => {
          if (!verifyBlock(this.manifest, i, data)) bad.push(i);
        });
        if (bad.length === 0) {
          // Fetching again cannot help: drop the partial so it does not linger.
          await rm(this.partPath, { force: true });
          await rm(this.blocksPath, { force: true });
          this.onClosed();
          throw new ManifestInconsistentError(this.contentId);
        }
        for (const i of bad) {
          this.verified[i >> 3]! &= ~(1 << (i & 7));
          this.writtenHere[i >> 3]! &= ~(1 << (i & 7));
          this.verifiedCount -= 1;
        }
        await this.saveRecord();
        throw new ContentHashMismatchError(this.contentId, bad);
      }
      await rename(this.partPath, this.contentPath);
      await syncDirectory(join(this.contentPath, '..'));
      await rm(this.blocksPath, { force: true });
      this.completedPath = this.contentPath;
      this.onClosed();
      return this.contentPath;
    });
  }

  /** Reads the partial file block by block, in order, into one reused buffer (so `visit` must not keep `data`). */
  private async readBlocks(visit: (index: number, data: Uint8Array) => void): Promise<void> {
    const handle = await open(this.partPath, 'r');
    try {
      const buffer = Buffer.allocUnsafe(Math.min(this.manifest.blockSize, Math.max(this.manifest.size, 1)));
      for (let i = 0; i < this.blockCount; i++) {
        const { start, end } = blockRange(this.manifest, i);
        const view = buffer.subarray(0, end - start);
        const { bytesRead } = await handle.read(view, 0, view.length, start);
        visit(i, view.subarray(0, bytesRead));
      }
    } finally {
      await handle.close();
    }
  }

  /**
   * Drops this partial download: after the writes already queued, its files are removed, and any
   * later write or completion is refused. The cache forgets it, so a new download opens afresh.
   */
  discard(): Promise<void> {
    return this.serialize(async () => {
      if (this.completedPath !== null) return;
      this.discarded = true;
      await rm(this.partPath, { force: true });
      await rm(this.blocksPath, { force: true });
      this.onClosed();
    });
  }

  private async saveRecord(): Promise<void> {
    const record: BlocksRecord = {
      version: BLOCKS_RECORD_VERSION,
      contentId: this.manifest.contentId,
      size: this.manifest.size,
      blockSize: this.manifest.blockSize,
      verified: Buffer.from(this.verified).toString('base64'),
    };
    await writeFileAtomic(this.blocksPath, JSON.stringify(record));
  }

  private serialize<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

/** Bytes [start, end) of a file, or null when the file is gone or too short to hold them. */
async function readExactly(path: string, range: { start: number; end: number }): Promise<Buffer | null> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if (isNotFound(error)) return null;
    throw error;
  }
  try {
    const data = Buffer.allocUnsafe(range.end - range.start);
    const { bytesRead } = await handle.read(data, 0, data.length, range.start);
    return bytesRead === data.length ? data : null;
  } finally {
    await handle.close();
  }
}

async function readBlocksRecord(path: string): Promise<BlocksRecord | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (isNotFound(error)) return null;
    throw error;
  }
  try {
    const parsed = blocksRecordSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    // Unreadable record (written by something else, or a disk fault): treated as absent, the download starts over.
    return null;
  }
}

async function removeIfPresent(path: string): Promise<boolean> {
  try {
    await rm(path);
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}
