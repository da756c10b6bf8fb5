import type { ByteSource } from '@fleetcast/contracts';
import type { Manifest } from '@fleetcast/content';
import { DownloadSource } from '../core/download-source';
import { ContentCache, ContentHashMismatchError } from './content-cache';

export interface CacheDownloadRequest {
  cache: ContentCache;
  /** An accepted manifest (see `acceptManifest`). */
  manifest: Manifest;
  /** Tried in order for whatever is still missing; today only the origin. */
  sources: readonly DownloadSource[];
  signal: AbortSignal;
  /** Bytes received, by the source they came from (the lifecycle's `download-progress`). */
  onProgress?: (source: ByteSource, bytes: number) => void;
}

export interface CacheDownloadResult {
  /** The verified file in the cache. */
  path: string;
  /** The content was already complete in the cache: nothing was fetched. */
  alreadyCached: boolean;
  /** Blocks that had to be fetched by this call (a resumed download fetches fewer than all). */
  blocksFetched: number;
}

/**
 * Brings a package into the cache: resumes its partial download, fetches the missing blocks from
 * the sources in order, then has the cache check the whole file and move it into place. Errors of
 * the last source are passed on (a DownloadSourceError says whether a later retry may help).
 */
export async function downloadIntoCache(request: CacheDownloadRequest): Promise<CacheDownloadResult> {
  const { cache, manifest, signal } = request;
  if (await cache.has(manifest.contentId)) {
    await cache.touch(manifest.contentId);
    return { path: cache.path(manifest.contentId), alreadyCached: true, blocksFetched: 0 };
  }
  if (request.sources.length === 0) throw new RangeError('downloadIntoCache needs at least one source');
  const partial = await cache.openPartial(manifest);
  let blocksFetched = 0;
  // Two rounds: the second only when the whole-file check found blocks that changed on disk.
  for (let round = 0; ; round++) {
    for (const [i, source] of request.sources.entries()) {
      const missing = partial.missingBlocks();
      if (missing.length === 0) break;
      try {
        await source.fetchBlocks({
          manifest,
          blocks: missing,
          signal,
          sink: async (index, data) => {
            await partial.writeBlock(index, data);
            blocksFetched += 1;
          },
          onProgress: (bytes) => request.onProgress?.(source.kind, bytes),
        });
      } catch (error) {
        // An abort ends everything; another failure passes the rest to the next source, if any.
        if (signal.aborted || i === request.sources.length - 1) throw error;
      }
    }
    try {
      const path = await partial.complete();
      return { path, alreadyCached: false, blocksFetched };
    } catch (error) {
      if (!(error instanceof ContentHashMismatchError) || round > 0) throw error;
    }
  }
}
