import type { ByteSource } from '@fleetcast/contracts';
import type { Manifest } from '@fleetcast/content';
import { FleetcastError } from '@fleetcast/contracts';
import { AgentErrorCode } from './agent-errors';

/**
 * Persists one block. Called only with a block that matched the manifest; it may still refuse
 * (by throwing), and the source then stops and passes the error on.
 */
export type BlockSink = (index: number, data: Uint8Array) => Promise<void>;

export interface FetchBlocksRequest {
  /** The verified manifest: every block is checked against it before it reaches the sink. */
  manifest: Manifest;
  /** Block indexes wanted, any order; the source may deliver them in any order. */
  blocks: readonly number[];
  sink: BlockSink;
  signal: AbortSignal;
  /** Bytes received from this source since the previous call, good or bad (what the link carried). */
  onProgress?: (bytes: number) => void;
}

/**
 * Somewhere blocks of a package come from: the origin over HTTP today; a subnet multicast session
 * and LAN peers later. A source knows nothing about caches or tasks; it fetches, verifies and
 * hands over. `fetchBlocks` resolves once every wanted block went to the sink, and rejects with a
 * DownloadSourceError otherwise; blocks delivered before a failure stay delivered, so the caller
 * asks the cache what is still missing and may try another source for it.
 */
export interface DownloadSource {
  readonly kind: ByteSource;
  fetchBlocks(request: FetchBlocksRequest): Promise<void>;
}

/** A source could not deliver; `retryable` says whether trying again later may help. */
export class DownloadSourceError extends FleetcastError {
  constructor(
    code: string,
    message: string,
    readonly retryable: boolean,
  ) {
    super(code, message);
    this.name = 'DownloadSourceError';
  }
}

/** The caller's signal ended the fetch: not a failure of the task, and never retried by the source. */
export class DownloadAbortedError extends DownloadSourceError {
  constructor(message = 'download aborted') {
    super(AgentErrorCode.DownloadAborted, message, false);
    this.name = 'DownloadAbortedError';
  }
}
