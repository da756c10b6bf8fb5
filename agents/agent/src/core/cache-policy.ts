/**
 * The local distribution cache's eviction policy, pure: which complete files to remove so that a new
 * package fits. Least recently used first; content of an active task is never evicted.
 */

export interface CacheEntry {
  contentId: string;
  size: number;
  /** Last use (download, install, touch), ms since the epoch. */
  lastUsedMs: number;
}

export interface EvictionRequest {
  entries: readonly CacheEntry[];
  /** Content that active tasks need: never evicted, whatever its age. */
  pinned: ReadonlySet<string>;
  /** Bytes the new content still needs on disk. */
  incoming: number;
  /** The settings' cache size limit; null = only the disk's free space bounds the cache. */
  limitBytes: number | null;
  /** Free bytes on the cache's file system now. */
  freeBytes: number;
}

export type EvictionPlan =
  | { fits: true; evict: string[] }
  /** Even evicting everything unpinned would not make room: say how much is missing. */
  | { fits: false; evict: []; shortBytes: number };

export function planEviction(request: EvictionRequest): EvictionPlan {
  const { entries, pinned, incoming, limitBytes } = request;
  let cached = entries.reduce((sum, e) => sum + e.size, 0);
  let free = request.freeBytes;
  const overBy = () => Math.max(limitBytes === null ? 0 : cached + incoming - limitBytes, incoming - free);
  const evict: string[] = [];
  const candidates = entries.filter((e) => !pinned.has(e.contentId)).sort((a, b) => a.lastUsedMs - b.lastUsedMs || a.contentId.localeCompare(b.contentId));
  for (const entry of candidates) {
    if (overBy() <= 0) break;
    evict.push(entry.contentId);
    cached -= entry.size;
    free += entry.size;
  }
  const short = overBy();
  return short <= 0 ? { fits: true, evict } : { fits: false, evict: [], shortBytes: short };
}
