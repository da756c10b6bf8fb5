import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, WriteStream } from 'node:fs';
import { once } from 'node:events';
import { mkdir, open, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';
import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { LOGGER } from '@fleetcast/service-kit';
import type { Logger } from '@fleetcast/telemetry';
import { ORIGIN_CONFIG, OriginConfig } from '../config/origin.config';
import { ByteRange } from './content-range';
import { blocksPath, contentRoot, contentPath, shardDir, tempDir, tempPath } from './content-paths';

/**
 * A temp file left by a process that died mid-upload. A live upload writes its file with every chunk
 * and a stalled connection is dropped after the server's idle timeout (minutes), so a file untouched
 * for an hour has no writer; a younger one may belong to another origin sharing the store.
 */
const STALE_TEMP_AGE_MS = 60 * 60 * 1000;

/**
 * Write buffer of an upload's temp file: one manifest block (1 MiB), so a slow disk write does not
 * stall the socket at once. One per upload in flight, so memory stays flat per upload.
 */
const UPLOAD_WRITE_BUFFER_BYTES = 1024 * 1024;

export type CommitResult = 'created' | 'existed';

/** An upload being written to `tmp/`; either committed into the store or discarded, never left. */
export interface TempContent {
  /** Where the bytes go; it closes the file when it finishes. */
  readonly sink: Writable;
  /** Makes the bytes durable and moves them, with their block hashes, to their content address. */
  commit(contentId: string, blockHashes: Uint8Array): Promise<CommitResult>;
  /** Removes the temp file; safe to call at any point and more than once. */
  discard(): Promise<void>;
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}

/**
 * Resolves once a stream has released its file. Unlike events.once it ignores 'error': a sink that
 * failed (or was destroyed because the client went away) still closes, and that is all we wait for.
 */
function whenClosed(stream: WriteStream): Promise<void> {
  return stream.closed ? Promise.resolve() : new Promise((resolve) => stream.once('close', () => resolve()));
}

async function fsyncDir(path: string): Promise<void> {
  const dir = await open(path, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** The only code that touches the content store on disk. Layout: see content-paths.ts. */
@Injectable()
export class ContentStoreRepository implements OnModuleInit {
  private readonly logger: Logger;
  private readonly root: string;

  constructor(@Inject(ORIGIN_CONFIG) config: OriginConfig, @Inject(LOGGER) logger: Logger) {
    this.root = config.storeDir;
    this.logger = logger.child({ context: ContentStoreRepository.name });
  }

  async onModuleInit(): Promise<void> {
    await mkdir(contentRoot(this.root), { recursive: true });
    await mkdir(tempDir(this.root), { recursive: true });
    await this.removeStaleTemps(Date.now() - STALE_TEMP_AGE_MS);
  }

  /** Opens a new temp file for an upload. */
  async createTemp(): Promise<TempContent> {
    const path = tempPath(this.root, `upload-${randomUUID()}`);
    const sink = createWriteStream(path, { flags: 'wx', mode: 0o644, highWaterMark: UPLOAD_WRITE_BUFFER_BYTES });
    // Wait for the file to exist: a discard before that could unlink first and leave the file behind.
    await once(sink, 'ready');
    return new TempContentFile(this, path, sink);
  }

  /** Size of stored content, or null when the store does not have it. */
  async size(contentId: string): Promise<number | null> {
    try {
      return (await stat(contentPath(this.root, contentId))).size;
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  /** Streams stored bytes; `range` is inclusive, as HTTP has it. */
  read(contentId: string, range?: ByteRange): Readable {
    return createReadStream(contentPath(this.root, contentId), range ? { start: range.start, end: range.end } : {});
  }

  /** The stored block hashes (32 bytes each, concatenated), or null when there are none. */
  async readBlockHashes(contentId: string): Promise<Buffer | null> {
    try {
      return await readFile(blocksPath(this.root, contentId));
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  /** Writes the block hashes file atomically (temp file, fsync, rename). */
  async writeBlockHashes(contentId: string, blockHashes: Uint8Array): Promise<void> {
    const shard = shardDir(this.root, contentId);
    await mkdir(shard, { recursive: true });
    const temp = tempPath(this.root, `blocks-${randomUUID()}`);
    try {
      const handle = await open(temp, 'wx', 0o644);
      try {
        await handle.writeFile(blockHashes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, blocksPath(this.root, contentId));
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Removes stored content and its block hashes; false when the store did not have it. Downloads
   * already reading the file finish (an open file outlives its name); new ones get 404.
   */
  async remove(contentId: string): Promise<boolean> {
    let removed = true;
    try {
      await unlink(contentPath(this.root, contentId));
    } catch (error) {
      if (!isMissing(error)) throw error;
      removed = false;
    }
    await unlink(blocksPath(this.root, contentId)).catch((error: unknown) => {
      if (!isMissing(error)) throw error;
    });
    if (removed) await fsyncDir(shardDir(this.root, contentId));
    return removed;
  }

  /** Where stored content lies, for code that reads it block by block by position (sealing). */
  filePath(contentId: string): string {
    return contentPath(this.root, contentId);
  }

  /** A fresh name in the temp directory (nothing is created); commit it with `commitTemp` or remove it with `discardTemp`. */
  newTempPath(prefix: string): string {
    return tempPath(this.root, `${prefix}-${randomUUID()}`);
  }

  async discardTemp(path: string): Promise<void> {
    await unlink(path).catch((error: unknown) => {
      if (!isMissing(error)) throw error;
    });
  }

  /** Throws unless a file can be created and removed in the store. */
  async probeWritable(): Promise<void> {
    const probe = tempPath(this.root, `ready-${randomUUID()}`);
    await writeFile(probe, '');
    await unlink(probe);
  }

  /** Moves a finished temp file to its content address (blocks first, so content never lacks them). */
  async commitTemp(tempFile: string, contentId: string, blockHashes: Uint8Array): Promise<CommitResult> {
    const existing = await this.readBlockHashes(contentId);
    if (!existing || !existing.equals(blockHashes)) await this.writeBlockHashes(contentId, blockHashes);
    if ((await this.size(contentId)) !== null) {
      // Same hash, same bytes: keep the stored copy, drop the new one.
      await unlink(tempFile);
      return 'existed';
    }
    await rename(tempFile, contentPath(this.root, contentId));
    // The renames are durable only once the directory entry is on disk.
    await fsyncDir(shardDir(this.root, contentId));
    return 'created';
  }

  private async removeStaleTemps(olderThanMs: number): Promise<void> {
    for (const name of await readdir(tempDir(this.root))) {
      const path = tempPath(this.root, name);
      try {
        if ((await stat(path)).mtimeMs < olderThanMs) {
          await unlink(path);
          this.logger.warn({ file: name }, 'removed an abandoned upload');
        }
      } catch (error) {
        if (!isMissing(error)) throw error;
      }
    }
  }
}

class TempContentFile implements TempContent {
  constructor(
    private readonly store: ContentStoreRepository,
    private readonly path: string,
    readonly sink: WriteStream,
  ) {}

  async commit(contentId: string, blockHashes: Uint8Array): Promise<CommitResult> {
    try {
      await whenClosed(this.sink);
      // fsync applies to the file, whichever descriptor asks: the bytes are on disk before the rename.
      const handle = await open(this.path, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      return await this.store.commitTemp(this.path, contentId, blockHashes);
    } catch (error) {
      await this.discard();
      throw error;
    }
  }

  async discard(): Promise<void> {
    const closed = whenClosed(this.sink);
    this.sink.destroy();
    await closed;
    await unlink(this.path).catch((error: unknown) => {
      if (!isMissing(error)) throw error;
    });
  }
}
