import { DownloadSourceError } from './download-source';
import { describeBlocks } from './block-ranges';

/**
 * Stable codes of peer repair: the `code` of a peer server's error bodies and of the peer source's
 * failures. They join AgentErrorCode once the daemon reports them; until then they are spelled here, once.
 */
export const PeerErrorCode = {
  BadContentId: 'PEER.BAD_CONTENT_ID',
  BadIndex: 'PEER.BAD_INDEX',
  BadBlockSize: 'PEER.BAD_BLOCK_SIZE',
  /** A request with a Range header: blocks are served whole. */
  RangeNotServed: 'PEER.RANGE_NOT_SERVED',
  NotHeld: 'PEER.NOT_HELD',
  NoRoute: 'PEER.NO_ROUTE',
  MethodNotAllowed: 'PEER.METHOD_NOT_ALLOWED',
  Busy: 'PEER.BUSY',
  Internal: 'PEER.INTERNAL',
  BlocksUnavailable: 'PEER.BLOCKS_UNAVAILABLE',
  /** A request without a peer pass, to a server that asks for one (401). */
  PassMissing: 'PEER.PASS_MISSING',
  /** A pass that does not verify, expired, or of an office this server does not serve (403). */
  PassRefused: 'PEER.PASS_REFUSED',
} as const;
export type PeerErrorCode = (typeof PeerErrorCode)[keyof typeof PeerErrorCode];

/**
 * No reachable, honest peer had these blocks. Retryable: the caller's next source (the origin, last)
 * fetches exactly `blocks`, and a later round may find peers that have them by then.
 */
export class PeerBlocksUnavailableError extends DownloadSourceError {
  constructor(
    readonly blocks: readonly number[],
    detail: string,
  ) {
    super(PeerErrorCode.BlocksUnavailable, `no peer served block(s) ${describeBlocks(blocks)}${detail ? `: ${detail}` : ''}`, true);
    this.name = 'PeerBlocksUnavailableError';
  }
}
