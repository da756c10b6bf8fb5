import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Inject, Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { BlockHasher, MANIFEST_BLOCK_SIZE } from '@fleetcast/content';
import { ContentDescriptor } from '@fleetcast/contracts';
import { LOGGER } from '@fleetcast/service-kit';
import type { Logger } from '@fleetcast/telemetry';
import { ORIGIN_CONFIG, OriginConfig } from '../config/origin.config';
import { ContentStoreRepository } from '../content/content-store.repository';
import { HashMismatchError, SizeMismatchError } from '../content/content.exception';
import { OriginMetrics } from '../metrics/origin-metrics';
import { UploadDeclaration } from './upload-headers';
import { ChunkSink, UploadRecord, UploadStoreRepository } from './upload-store.repository';
import { UploadBusyError, UploadNotFoundError, UploadOffsetMismatchError } from './upload.exception';

/** An upload as its API shows it. */
export interface UploadView {
  id: string;
  size: number;
  /** Bytes received so far: where the next chunk starts. */
  offset: number;
  sha256: string | null;
  label: string | null;
  createdAt: string;
  /** When an upload left alone is removed (its last activity plus the configured time). */
  expiresAt: string;
  /** The content it became, once finished. */
  contentId: string | null;
}

export type ChunkResult = { complete: false; offset: number } | { complete: true; offset: number; descriptor: ContentDescriptor; created: boolean };

/** Longest pause between two sweeps for expired uploads; shorter when uploads expire sooner. */
const MAX_SWEEP_INTERVAL_MS = 15 * 60_000;

function whenClosed(stream: ChunkSink): Promise<void> {
  return stream.closed ? Promise.resolve() : new Promise((resolve) => stream.once('close', () => resolve()));
}

/**
 * Resumable uploads (tus-like): create one with its size, send its bytes in chunks that each say
 * where they start, learn where it stands after a break. The bytes are hashed as they are written;
 * the hash state lives in memory and is rebuilt from the part file after a restart. When the last
 * byte is in, the upload is checked (a declared hash that does not match removes everything) and
 * moved into the store exactly like a single-request upload. One chunk at a time per upload.
 */
@Injectable()
export class UploadSessionsService implements OnModuleInit, OnModuleDestroy {
  private readonly logger: Logger;
  /** Uploads receiving a chunk now. */
  private readonly busy = new Set<string>();
  /** Hash state per upload, in step with its part file (`bytes` equals the file's length). */
  private readonly hashers = new Map<string, BlockHasher>();
  private sweepTimer?: NodeJS.Timeout;

  constructor(
    private readonly uploads: UploadStoreRepository,
    private readonly store: ContentStoreRepository,
    private readonly metrics: OriginMetrics,
    @Inject(ORIGIN_CONFIG) private readonly config: OriginConfig,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.logger = logger.child({ context: UploadSessionsService.name });
  }

  async onModuleInit(): Promise<void> {
    await this.sweep(Date.now());
    const every = Math.min(MAX_SWEEP_INTERVAL_MS, Math.max(1000, this.config.uploadTtlMs / 4));
    this.sweepTimer = setInterval(() => {
      this.sweep(Date.now()).catch((error: unknown) => this.logger.error({ reason: (error as Error).message }, 'upload sweep failed'));
    }, every);
    this.sweepTimer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.sweepTimer);
  }

  async create(declaration: UploadDeclaration, now = new Date()): Promise<UploadView> {
    const record: UploadRecord = { version: 1, id: randomUUID(), size: declaration.size, sha256: declaration.sha256, label: declaration.label, createdAt: now.toISOString(), contentId: null };
    await this.uploads.create(record);
    this.hashers.set(record.id, new BlockHasher(MANIFEST_BLOCK_SIZE));
    this.logger.info({ uploadId: record.id, size: record.size, label: record.label }, 'upload created');
    return this.view(record, 0, now.getTime());
  }

  /** Where an upload stands; UploadNotFoundError when there is none (or it expired). */
  async status(id: string, nowMs = Date.now()): Promise<UploadView> {
    const { record, offset, lastActivityMs } = await this.load(id, nowMs);
    return this.view(record, offset, lastActivityMs);
  }

  /**
   * Appends a chunk that starts at `offset` (which must be the upload's offset) and, when it brings
   * the last byte, finishes the upload. A chunk that breaks off keeps what arrived: the next one
   * starts there. A chunk that runs past the declared size is undone whole.
   */
  async append(id: string, offset: number, declaredLength: number | undefined, body: Readable, nowMs = Date.now()): Promise<ChunkResult> {
    if (this.busy.has(id)) throw new UploadBusyError(id);
    this.busy.add(id);
    try {
      const { record, offset: current } = await this.load(id, nowMs);
      if (record.contentId !== null) {
        // Finished before: a client whose answer was lost asks again with an empty chunk at the end.
        if (offset !== record.size) throw new UploadOffsetMismatchError(record.size, offset);
        return { complete: true, offset: record.size, descriptor: await this.descriptorOf(record.contentId), created: false };
      }
      if (offset !== current) throw new UploadOffsetMismatchError(current, offset);
      if (declaredLength !== undefined && offset + declaredLength > record.size) {
        throw new SizeMismatchError(`a chunk of ${declaredLength} bytes at offset ${offset} runs past the upload's size of ${record.size} bytes`);
      }
      const hasher = await this.hasherAt(id, current);
      const end = await this.receive(record, current, body, hasher);
      if (end < record.size) return { complete: false, offset: end };
      return await this.finish(record);
    } finally {
      this.busy.delete(id);
    }
  }

  /** Removes an upload and what it received. */
  async abort(id: string, nowMs = Date.now()): Promise<void> {
    if (this.busy.has(id)) throw new UploadBusyError(id);
    await this.load(id, nowMs);
    await this.uploads.remove(id);
    this.hashers.delete(id);
    this.logger.info({ uploadId: id }, 'upload removed by its client');
  }

  /** Removes uploads left alone longer than the configured time, finished or not (never one receiving a chunk). */
  async sweep(nowMs: number): Promise<number> {
    let removed = 0;
    for (const id of await this.uploads.ids()) {
      if (this.busy.has(id)) continue;
      const last = await this.uploads.lastActivityMs(id);
      if (last !== null && nowMs - last <= this.config.uploadTtlMs) continue;
      await this.uploads.remove(id);
      this.hashers.delete(id);
      removed += 1;
      this.logger.warn({ uploadId: id }, 'removed an expired upload');
    }
    return removed;
  }

  private async load(id: string, nowMs: number): Promise<{ record: UploadRecord; offset: number; lastActivityMs: number }> {
    const record = await this.uploads.read(id);
    const lastActivityMs = await this.uploads.lastActivityMs(id);
    if (record === null || lastActivityMs === null) throw new UploadNotFoundError(id);
    if (nowMs - lastActivityMs > this.config.uploadTtlMs) {
      // Expired: the sweep would remove it; answer as if it had.
      throw new UploadNotFoundError(id);
    }
    if (record.contentId !== null) return { record, offset: record.size, lastActivityMs };
    const offset = await this.uploads.offset(id);
    if (offset === null) throw new UploadNotFoundError(id);
    return { record, offset, lastActivityMs };
  }

  /** The hash state at `offset`: kept from the last chunk, or (after a restart) rebuilt by reading the part file. */
  private async hasherAt(id: string, offset: number): Promise<BlockHasher> {
    const kept = this.hashers.get(id);
    if (kept !== undefined && kept.bytes === offset) return kept;
    const hasher = new BlockHasher(MANIFEST_BLOCK_SIZE);
    for await (const chunk of this.uploads.readPrefix(id, offset)) hasher.update(chunk as Buffer);
    if (hasher.bytes !== offset) throw new Error(`upload ${id}: read ${hasher.bytes} of ${offset} bytes back`);
    this.hashers.set(id, hasher);
    if (offset > 0) this.logger.info({ uploadId: id, bytes: offset }, 'hash state rebuilt from the bytes on disk');
    return hasher;
  }

  /** Writes the chunk; returns the new offset. Bytes past the declared size undo the chunk (SizeMismatchError). */
  private async receive(record: UploadRecord, start: number, body: Readable, hasher: BlockHasher): Promise<number> {
    const metrics = this.metrics;
    const room = record.size - start;
    let received = 0;
    const sink = await this.uploads.openAt(record.id, start, (chunk) => hasher.update(chunk));
    try {
      await pipeline(
        body,
        async function* upToTheSize(source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            received += chunk.length;
            metrics.recordUploadBytes(chunk.length);
            // Past the size the chunk is lost: read the rest without storing it, so the client gets its answer.
            if (received > room) continue;
            yield chunk;
          }
        },
        sink,
      );
    } catch (error) {
      await whenClosed(sink);
      // What was written stays (and was hashed): the next chunk starts there.
      this.logger.info({ uploadId: record.id, offset: sink.endOffset, reason: (error as Error).message }, 'chunk broken off');
      throw error;
    }
    await whenClosed(sink);
    if (received > room) {
      await this.uploads.truncate(record.id, start);
      this.hashers.delete(record.id);
      this.metrics.recordUpload('size_mismatch');
      throw new SizeMismatchError(`the chunk at offset ${start} brought ${received} bytes but only ${room} were left of the upload's ${record.size}`);
    }
    return sink.endOffset;
  }

  private async finish(record: UploadRecord): Promise<ChunkResult> {
    const hasher = this.hashers.get(record.id);
    if (hasher === undefined || hasher.bytes !== record.size) throw new Error(`upload ${record.id}: hash state out of step with its bytes`);
    this.hashers.delete(record.id);
    const manifest = hasher.finish();
    if (record.sha256 !== null && record.sha256 !== manifest.contentId) {
      await this.uploads.remove(record.id);
      this.metrics.recordUpload('hash_mismatch');
      this.logger.warn({ uploadId: record.id, declared: record.sha256, actual: manifest.contentId }, 'upload rejected: hash mismatch');
      throw new HashMismatchError(record.sha256, manifest.contentId);
    }
    const result = await this.store.commitTemp(this.uploads.partPath(record.id), manifest.contentId, manifest.blockHashes);
    await this.uploads.writeRecord({ ...record, contentId: manifest.contentId });
    this.metrics.recordUpload(result);
    this.logger.info({ uploadId: record.id, contentId: manifest.contentId, size: manifest.size, result }, 'upload stored');
    return {
      complete: true,
      offset: record.size,
      created: result === 'created',
      descriptor: { contentId: manifest.contentId, size: manifest.size, blockSize: MANIFEST_BLOCK_SIZE, blockHashes: Buffer.from(manifest.blockHashes).toString('base64') },
    };
  }

  private async descriptorOf(contentId: string): Promise<ContentDescriptor> {
    const size = await this.store.size(contentId);
    const hashes = await this.store.readBlockHashes(contentId);
    if (size === null || hashes === null) throw new UploadNotFoundError(contentId);
    return { contentId, size, blockSize: MANIFEST_BLOCK_SIZE, blockHashes: hashes.toString('base64') };
  }

  private view(record: UploadRecord, offset: number, lastActivityMs: number): UploadView {
    return {
      id: record.id,
      size: record.size,
      offset,
      sha256: record.sha256,
      label: record.label,
      createdAt: record.createdAt,
      expiresAt: new Date(lastActivityMs + this.config.uploadTtlMs).toISOString(),
      contentId: record.contentId,
    };
  }
}
