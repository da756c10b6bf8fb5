import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, truncate, FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { z } from 'zod';
import { ORIGIN_CONFIG, OriginConfig } from '../config/origin.config';
import { isUploadId } from './upload-headers';

/**
 * Resumable uploads live on the origin's disk, next to the store (same file system, so that a
 * finished upload is renamed into place, never copied):
 *
 *   <root>/uploads/<id>.json   what was declared (size, hash, label) and, once finished, the content ID
 *   <root>/uploads/<id>.part   the bytes received so far; its length IS the upload's offset
 *
 * Nothing about an upload is kept only in memory, so an upload survives a restart of the origin.
 */
export const UPLOADS_DIR = 'uploads';

const uploadRecordSchema = z.object({
  version: z.literal(1),
  id: z.string(),
  size: z.number().int().nonnegative(),
  sha256: z.string().nullable(),
  label: z.string().nullable(),
  createdAt: z.string(),
  /** Set when the upload finished: the content it became (kept until it expires, so a lost answer can be asked again). */
  contentId: z.string().nullable(),
});
export type UploadRecord = z.infer<typeof uploadRecordSchema>;

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}

/** The only code that touches uploads on disk. */
@Injectable()
export class UploadStoreRepository implements OnModuleInit {
  readonly dir: string;

  constructor(@Inject(ORIGIN_CONFIG) config: OriginConfig) {
    this.dir = join(config.storeDir, UPLOADS_DIR);
  }

  private made?: Promise<unknown>;

  async onModuleInit(): Promise<void> {
    await this.ensureDir();
  }

  /** Creates the folder once; whoever needs it first (the sweep at start may come before this module's init). */
  private ensureDir(): Promise<unknown> {
    this.made ??= mkdir(this.dir, { recursive: true });
    return this.made;
  }

  partPath(id: string): string {
    if (!isUploadId(id)) throw new Error(`not an upload ID: ${JSON.stringify(id)}`);
    return join(this.dir, `${id}.part`);
  }

  private recordPath(id: string): string {
    if (!isUploadId(id)) throw new Error(`not an upload ID: ${JSON.stringify(id)}`);
    return join(this.dir, `${id}.json`);
  }

  /** Creates the empty part file, then the record (an upload whose record exists always has its file, until it finishes). */
  async create(record: UploadRecord): Promise<void> {
    await this.ensureDir();
    const handle = await open(this.partPath(record.id), 'wx', 0o600);
    await handle.close();
    await this.writeRecord(record);
  }

  async writeRecord(record: UploadRecord): Promise<void> {
    const path = this.recordPath(record.id);
    const temp = `${path}.tmp`;
    const handle = await open(temp, 'w', 0o600);
    try {
      await handle.writeFile(JSON.stringify(record));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  }

  /** The record, or null when there is none (or it cannot be read: an upload that cannot be trusted is no upload). */
  async read(id: string): Promise<UploadRecord | null> {
    let text: string;
    try {
      text = await readFile(this.recordPath(id), 'utf8');
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
    try {
      const parsed = uploadRecordSchema.safeParse(JSON.parse(text));
      return parsed.success && parsed.data.id === id ? parsed.data : null;
    } catch {
      return null;
    }
  }

  /** Bytes received so far: the part file's length (null when it is gone). */
  async offset(id: string): Promise<number | null> {
    try {
      return (await stat(this.partPath(id))).size;
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  /** When the upload last changed (its record or its bytes), ms since the epoch; null when neither exists. */
  async lastActivityMs(id: string): Promise<number | null> {
    let latest: number | null = null;
    for (const path of [this.recordPath(id), this.partPath(id)]) {
      try {
        const mtime = (await stat(path)).mtimeMs;
        latest = latest === null ? mtime : Math.max(latest, mtime);
      } catch (error) {
        if (!isMissing(error)) throw error;
      }
    }
    return latest;
  }

  /** A writer that appends at `offset` (see ChunkSink). */
  async openAt(id: string, offset: number, onWritten: (chunk: Buffer) => void): Promise<ChunkSink> {
    return new ChunkSink(await open(this.partPath(id), 'r+'), offset, onWritten);
  }

  /** The first `length` bytes received, to hash again after a restart. */
  readPrefix(id: string, length: number): Readable {
    return length === 0 ? Readable.from([]) : createReadStream(this.partPath(id), { start: 0, end: length - 1 });
  }

  /** Cuts the bytes past `length` (a chunk that ran past the declared size is undone whole). */
  async truncate(id: string, length: number): Promise<void> {
    await truncate(this.partPath(id), length);
  }

  /** Removes an upload's files; safe when they are gone already. */
  async remove(id: string): Promise<void> {
    await rm(this.partPath(id), { force: true });
    await rm(this.recordPath(id), { force: true });
    await rm(`${this.recordPath(id)}.tmp`, { force: true });
  }

  /** The IDs of every upload on disk (by its record or its part file). */
  async ids(): Promise<string[]> {
    await this.ensureDir();
    const names = await readdir(this.dir);
    const ids = new Set<string>();
    for (const name of names) {
      const id = name.replace(/\.(json|part|json\.tmp)$/, '');
      if (isUploadId(id)) ids.add(id);
    }
    return [...ids].sort();
  }
}

/**
 * Writes a chunk's bytes at their offset and reports each piece only once it is written, so that
 * whoever hashes on the way (`onWritten`) has hashed exactly the bytes in the file, also when the
 * client goes away mid-chunk. Flushes to disk before it finishes; closes its file when destroyed.
 */
export class ChunkSink extends Writable {
  private position: number;
  private inFlight: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly handle: FileHandle,
    start: number,
    private readonly onWritten: (chunk: Buffer) => void,
  ) {
    // One manifest block of buffer: a slow disk write does not stall the socket at once.
    super({ highWaterMark: 1024 * 1024 });
    this.position = start;
  }

  /** Bytes written through this sink so far, from its start. */
  get endOffset(): number {
    return this.position;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const write = this.handle.write(chunk, 0, chunk.length, this.position).then(({ bytesWritten }) => {
      if (bytesWritten !== chunk.length) throw new Error(`short write: ${bytesWritten} of ${chunk.length} bytes`);
      this.position += chunk.length;
      this.onWritten(chunk);
    });
    this.inFlight = write.catch(() => undefined);
    write.then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.handle.sync().then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // The write under way finishes (it cannot be called back), then the file is closed.
    this.inFlight.then(() => this.handle.close()).then(() => callback(error), () => callback(error));
  }
}
