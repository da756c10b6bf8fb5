import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { performance } from 'node:perf_hooks';
import { Inject, Injectable } from '@nestjs/common';
import { z } from 'zod';
import { BlockHasher, CONTENT_KEY_BYTES, MANIFEST_BLOCK_SIZE, SHA256_BYTES, blockCount, sealFile } from '@fleetcast/content';
import { ErrorCode, FleetcastError, ContentDescriptor } from '@fleetcast/contracts';
import { LOGGER } from '@fleetcast/service-kit';
import type { Logger } from '@fleetcast/telemetry';
import { OriginMetrics, UploadResult } from '../metrics/origin-metrics';
import { Requester, UploadDeclaration, declaredSizeOf } from './content-headers';
import { ByteRange } from './content-range';
import { ContentStoreRepository, TempContent } from './content-store.repository';
import { ContentNotFoundError, HashMismatchError, SizeMismatchError } from './content.exception';

export type { ContentDescriptor };

export interface IngestResult {
  descriptor: ContentDescriptor;
  /** False when the store already held these bytes. */
  created: boolean;
}

/** Error codes of a body stream that ended because the client went away. */
const CLIENT_GONE_CODES = new Set(['ECONNRESET', 'ERR_STREAM_PREMATURE_CLOSE']);

function uploadResultOf(error: unknown): UploadResult {
  if (error instanceof HashMismatchError) return 'hash_mismatch';
  if (error instanceof SizeMismatchError) return 'size_mismatch';
  if (CLIENT_GONE_CODES.has((error as NodeJS.ErrnoException).code ?? '')) return 'aborted';
  return 'failed';
}

function describe(contentId: string, size: number, blockHashes: Uint8Array): ContentDescriptor {
  return { contentId, size, blockSize: MANIFEST_BLOCK_SIZE, blockHashes: Buffer.from(blockHashes).toString('base64') };
}

@Injectable()
export class ContentService {
  private readonly logger: Logger;

  constructor(
    private readonly store: ContentStoreRepository,
    private readonly metrics: OriginMetrics,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.logger = logger.child({ context: ContentService.name });
  }

  /**
   * Stores an upload: hashes it on the way to a temp file, checks what the client declared, then
   * moves it to its content address. Holds one chunk at a time, whatever the size. On any failure
   * (mismatch, client gone, disk error) the temp file is removed and the error rethrown.
   */
  async ingest(body: Readable, declared: UploadDeclaration): Promise<IngestResult> {
    const started = performance.now();
    const hasher = new BlockHasher(MANIFEST_BLOCK_SIZE);
    const metrics = this.metrics;
    let received = 0;
    let temp: TempContent | undefined;
    try {
      const declaredSize = declaredSizeOf(declared);
      temp = await this.store.createTemp();
      await pipeline(
        body,
        async function* hashOnTheWay(source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            received += chunk.length;
            metrics.recordUploadBytes(chunk.length);
            // Past the declared size the upload is already lost: read the rest without storing it, so
            // the client gets its 422 instead of a reset connection (an error here would destroy it).
            if (declaredSize !== undefined && received > declaredSize) continue;
            hasher.update(chunk);
            yield chunk;
          }
        },
        temp.sink,
      );
      if (declaredSize !== undefined && received !== declaredSize) {
        throw new SizeMismatchError(`declared ${declaredSize} bytes but the body has ${received}`);
      }
      const manifest = hasher.finish();
      if (declared.sha256 !== undefined && declared.sha256 !== manifest.contentId) {
        throw new HashMismatchError(declared.sha256, manifest.contentId);
      }
      const result = await temp.commit(manifest.contentId, manifest.blockHashes);
      this.metrics.recordUpload(result);
      const seconds = Math.max((performance.now() - started) / 1000, 1e-6);
      this.logger.info(
        {
          contentId: manifest.contentId,
          size: manifest.size,
          result,
          durationMs: Math.round(seconds * 1000),
          mbPerSecond: Math.round((manifest.size / 1e6 / seconds) * 100) / 100,
        },
        'upload stored',
      );
      return { descriptor: describe(manifest.contentId, manifest.size, manifest.blockHashes), created: result === 'created' };
    } catch (error) {
      await temp?.discard().catch((discardError: unknown) => {
        this.logger.error({ reason: (discardError as Error).message }, 'could not remove a failed upload');
      });
      const result = uploadResultOf(error);
      this.metrics.recordUpload(result);
      this.logger.warn({ result, receivedBytes: received, reason: (error as Error).message }, 'upload rejected');
      throw error;
    }
  }

  /**
   * Seals stored content for a confidential package: every block encrypted under `key` (see
   * @fleetcast/content confidential.ts) into a temp file, hashed on the way (the manifest is over
   * the ciphertext), then stored under its own hash; with `removeSource`, the plaintext is removed.
   * The key lives only in this call: it is neither stored nor logged.
   */
  async seal(contentId: string, packageId: string, key: Buffer, removeSource: boolean): Promise<ContentDescriptor> {
    if (key.length !== CONTENT_KEY_BYTES) throw new FleetcastError(ErrorCode.ContractInvalid, `a content key is ${CONTENT_KEY_BYTES} bytes, not ${key.length}`);
    const plainSize = await this.sizeOf(contentId);
    const temp = this.store.newTempPath('sealed');
    const hasher = new BlockHasher(MANIFEST_BLOCK_SIZE);
    let manifest;
    try {
      await sealFile(key, packageId, this.store.filePath(contentId), temp, (block) => hasher.update(block));
      manifest = hasher.finish();
      await this.store.commitTemp(temp, manifest.contentId, manifest.blockHashes);
    } catch (error) {
      await this.store.discardTemp(temp);
      throw error;
    }
    if (removeSource) await this.store.remove(contentId);
    this.logger.info({ contentId, packageId, sealedContentId: manifest.contentId, plainSize, size: manifest.size, sourceRemoved: removeSource }, 'content sealed');
    return describe(manifest.contentId, manifest.size, manifest.blockHashes);
  }

  /** Size of stored content; throws ORIGIN.CONTENT_NOT_FOUND when absent. */
  async sizeOf(contentId: string): Promise<number> {
    const size = await this.store.size(contentId);
    if (size === null) throw new ContentNotFoundError(contentId);
    return size;
  }

  /** Removes stored content (its package was deleted); ORIGIN.CONTENT_NOT_FOUND when the store does not have it. */
  async remove(contentId: string): Promise<void> {
    if (!(await this.store.remove(contentId))) throw new ContentNotFoundError(contentId);
    this.logger.info({ contentId }, 'content removed');
  }

  /** The stored bytes of a range (inclusive); the caller has checked the content exists. */
  read(contentId: string, range: ByteRange): Readable {
    return this.store.read(contentId, range);
  }

  /** Throws COMMON.UNAVAILABLE unless the store can take an upload. */
  async checkStoreWritable(): Promise<void> {
    try {
      await this.store.probeWritable();
    } catch (error) {
      throw new FleetcastError(ErrorCode.Unavailable, `content store is not writable: ${(error as Error).message}`);
    }
  }

  recordServed(requester: Requester, bytes: number): void {
    this.metrics.recordServed(requester.subnet, requester.device, bytes);
  }

  /**
   * The descriptor of stored content. Block hashes come from the file written at upload; if it is
   * missing or does not fit the current block size, they are computed again from the bytes (which
   * must still hash to their name) and stored.
   */
  async descriptorOf(contentId: string): Promise<ContentDescriptor> {
    const size = await this.sizeOf(contentId);
    const stored = await this.store.readBlockHashes(contentId);
    if (stored && stored.length === blockCount(size, MANIFEST_BLOCK_SIZE) * SHA256_BYTES) return describe(contentId, size, stored);

    const hasher = new BlockHasher(MANIFEST_BLOCK_SIZE);
    for await (const chunk of this.store.read(contentId)) hasher.update(chunk as Buffer);
    const manifest = hasher.finish();
    if (manifest.contentId !== contentId) {
      this.logger.error({ contentId, actual: manifest.contentId }, 'stored content does not match its name');
      throw new FleetcastError(ErrorCode.Internal, `stored content ${contentId} is corrupt`);
    }
    await this.store.writeBlockHashes(contentId, manifest.blockHashes);
    this.logger.warn({ contentId }, 'block hashes rebuilt');
    return describe(contentId, manifest.size, manifest.blockHashes);
  }
}
