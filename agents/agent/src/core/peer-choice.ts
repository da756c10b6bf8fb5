/**
 * Which peer to ask for a block: pure, so that the spreading rule is tested without sockets.
 *
 * A peer is a candidate for a block when it claims the block, has not sent a corrupt block in this
 * fetch, and has not already failed this very block. Among candidates that have a free request slot
 * and are not backing off, the least busy one wins (fewest requests in flight, then fewest given
 * so far, then the lower index), so that blocks spread over every peer instead of queueing on the
 * first: two peers serving half each finish in half the time, and neither device is swamped.
 */

/** What the chooser needs to know about one peer, at one moment of one fetch. */
export interface PeerView {
  /** Blocks the peer said it holds. */
  holds: ReadonlySet<number>;
  /** Requests to it now open. */
  inFlight: number;
  /** Requests given to it so far in this fetch. */
  assigned: number;
  /** It sent a block that did not match the manifest: not asked again in this fetch. */
  bad: boolean;
  /** It asked to be left alone (busy) or failed: not asked before this time (ms). */
  notBefore: number;
}

export type PeerChoice =
  /** Ask this peer (its index) now. */
  | { kind: 'peer'; peer: number }
  /**
   * Some peer can serve the block, but none now: wait for a request to end, or until `until`
   * (ms) when the only obstacle is a back-off.
   */
  | { kind: 'wait'; until: number | null }
  /** No peer will ever serve this block in this fetch. */
  | { kind: 'none' };

export function choosePeer(
  block: number,
  peers: readonly PeerView[],
  /** Peers (indexes) that already failed this block. */
  excluded: ReadonlySet<number>,
  maxInFlightPerPeer: number,
  now: number,
): PeerChoice {
  let best = -1;
  let candidates = 0;
  let until: number | null = null;
  for (const [i, peer] of peers.entries()) {
    if (peer.bad || excluded.has(i) || !peer.holds.has(block)) continue;
    candidates += 1;
    if (peer.inFlight >= maxInFlightPerPeer) continue;
    if (peer.notBefore > now) {
      until = until === null ? peer.notBefore : Math.min(until, peer.notBefore);
      continue;
    }
    const current = peers[best];
    if (current === undefined || peer.inFlight < current.inFlight || (peer.inFlight === current.inFlight && peer.assigned < current.assigned)) best = i;
  }
  if (best >= 0) return { kind: 'peer', peer: best };
  if (candidates === 0) return { kind: 'none' };
  return { kind: 'wait', until };
}
