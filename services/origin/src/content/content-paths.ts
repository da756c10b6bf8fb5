import { join } from 'node:path';

/**
 * Layout of the content store, as pure functions of the root directory:
 *
 *   <root>/sha256/<first 2 hex>/<hex>          the bytes, named by their SHA-256 (immutable once there)
 *   <root>/sha256/<first 2 hex>/<hex>.blocks   the SHA-256 of every block, raw 32 bytes each
 *   <root>/tmp/<name>                          uploads in flight; renamed into place when complete
 *
 * `tmp/` sits on the same file system as `sha256/`, so that the final rename is atomic.
 */
export const CONTENT_DIR = 'sha256';
export const TEMP_DIR = 'tmp';
export const BLOCKS_SUFFIX = '.blocks';

/**
 * Two hex characters of fan-out: 256 shard directories keep each one small (a store of 100,000
 * packages holds about 400 files a directory), which keeps lookups fast on any file system.
 */
const SHARD_CHARS = 2;

const CONTENT_ID = /^[0-9a-f]{64}$/;

/** Throws unless `contentId` is 64 lowercase hex characters, so that no ID can escape the store. */
export function assertContentId(contentId: string): void {
  if (!CONTENT_ID.test(contentId)) throw new Error(`not a content ID: ${JSON.stringify(contentId)}`);
}

export function contentRoot(root: string): string {
  return join(root, CONTENT_DIR);
}

export function shardDir(root: string, contentId: string): string {
  assertContentId(contentId);
  return join(contentRoot(root), contentId.slice(0, SHARD_CHARS));
}

export function contentPath(root: string, contentId: string): string {
  return join(shardDir(root, contentId), contentId);
}

export function blocksPath(root: string, contentId: string): string {
  return contentPath(root, contentId) + BLOCKS_SUFFIX;
}

export function tempDir(root: string): string {
  return join(root, TEMP_DIR);
}

/** A temp file name; `name` must be a single path segment. */
export function tempPath(root: string, name: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(name) || name === '.' || name === '..') throw new Error(`not a temp file name: ${JSON.stringify(name)}`);
  return join(tempDir(root), name);
}
