import type { HeldRange } from './block-ranges';

/**
 * Which blocks a device of a swarm fetches from where (docs/p2p.md). Pure: the holdings come from
 * the office's view (the tasks service's record of what every peer announced), the randomness is a
 * parameter, so the spreading rule is tested without sockets.
 */

/** What one peer of the office said it holds. */
export interface PeerHoldings {
  complete: boolean;
  runs: readonly HeldRange[];
}

/**
 * Per block, how many peers hold it. Runs outside the content are clipped: a view is a hint (every
 * block is verified on arrival), and a bad run must not make the fetcher ask for blocks that cannot exist.
 */
export function blockAvailability(blockCount: number, peers: readonly PeerHoldings[]): Uint16Array {
  const counts = new Uint16Array(blockCount);
  for (const peer of peers) {
    if (peer.complete) {
      for (let i = 0; i < blockCount; i++) counts[i] = Math.min(0xffff, counts[i]! + 1);
      continue;
    }
    for (const { first, count } of peer.runs) {
      const end = Math.min(blockCount, first + count);
      for (let i = Math.max(0, first); i < end; i++) counts[i] = Math.min(0xffff, counts[i]! + 1);
    }
  }
  return counts;
}

/**
 * The missing blocks that some peer of the office holds, rarest first: a block few peers hold is
 * fetched before it becomes the one everyone waits for (and the fetcher becomes one more holder of
 * it), as BitTorrent's rarest-first. Ties are shuffled with `random`, so that the devices of an
 * office ask for different blocks and then serve each other, instead of all asking the first
 * holder for block 0.
 */
export function peerBlocksInOrder(missing: readonly number[], availability: Uint16Array, busy: ReadonlySet<number>, random: () => number): number[] {
  const candidates = missing.filter((b) => !busy.has(b) && (availability[b] ?? 0) > 0).map((b) => ({ b, rank: availability[b]!, tie: random() }));
  candidates.sort((x, y) => x.rank - y.rank || x.tie - y.tie);
  return candidates.map((c) => c.b);
}

/**
 * The missing blocks no peer of the office holds: what the office's upstream fetcher brings across
 * the WAN link (from the parent office's peers, then the origin), in index order so that the
 * origin serves them as few HTTP ranges; at most `max`, so that the fetcher returns to the view
 * often and never fetches across the link a block that a peer meanwhile holds.
 */
export function upstreamBlocks(missing: readonly number[], availability: Uint16Array, busy: ReadonlySet<number>, max: number): number[] {
  const out: number[] = [];
  for (const b of missing) {
    if (out.length >= max) break;
    if (!busy.has(b) && (availability[b] ?? 0) === 0) out.push(b);
  }
  return out;
}

/** Peers (indexes into `peers`) that hold at least one of `blocks`: the only ones worth asking. */
export function peersHolding(blocks: readonly number[], peers: readonly PeerHoldings[]): number[] {
  const out: number[] = [];
  for (const [i, peer] of peers.entries()) {
    if (peer.complete || peer.runs.some(({ first, count }) => blocks.some((b) => b >= first && b < first + count))) out.push(i);
  }
  return out;
}

/** A batch of the peer worker: the blocks to fetch and the peers (indexes into `peers`) to fetch them from. */
export interface PeerBatch {
  blocks: number[];
  peers: number[];
}

export interface PeerBatchLimits {
  /** Blocks in the batch at most. */
  maxBlocks: number;
  /** Blocks counted against one peer at most. */
  perPeer: number;
  /** Peers in the batch at most. */
  maxPeers: number;
}

/**
 * The next batch of the peer worker: blocks taken in the order given (rarest first), each counted
 * against the holder with the fewest blocks of the batch so far, ties in an order shuffled with
 * `random` (so that the fetchers of an office do not all lean on the same peer); a block whose
 * every holder already has `perPeer` blocks, or that only a peer beyond `maxPeers` holds, waits for
 * a later batch. A batch ends when its last block is in, and the peers are fixed when it starts:
 * without the cap, a fetcher whose view names one holder (the first device of an office, which
 * every other one asks at once) would commit a whole batch to that one peer, and wait on its
 * upload while the other devices meanwhile hold the blocks. With it, that batch is short, and the
 * next one, from a newer view, spreads over the devices that got blocks since.
 */
export function peerBatch(order: readonly number[], peers: readonly PeerHoldings[], limits: PeerBatchLimits, random: () => number): PeerBatch {
  const blockCount = order.reduce((n, b) => Math.max(n, b + 1), 0);
  // Per partial peer, a bitmap of what it holds, so that each block's holders are found without walking runs.
  const held = peers.map((peer) => {
    if (peer.complete) return null;
    const bits = new Uint8Array(blockCount);
    for (const { first, count } of peer.runs) bits.fill(1, Math.max(0, first), Math.min(blockCount, first + count));
    return bits;
  });
  const tieOrder = peers.map((_, i) => ({ i, tie: random() })).sort((x, y) => x.tie - y.tie).map((p) => p.i);
  const counted = new Array<number>(peers.length).fill(0);
  const chosen: number[] = [];
  const blocks: number[] = [];
  let open = peers.length; // peers not yet at `perPeer`
  for (const block of order) {
    if (blocks.length >= limits.maxBlocks || open === 0) break;
    let best = -1;
    for (const i of tieOrder) {
      if (counted[i]! >= limits.perPeer) continue;
      if (!(peers[i]!.complete || held[i]![block] === 1)) continue;
      if (counted[i] === 0 && chosen.length >= limits.maxPeers) continue;
      if (best < 0 || counted[i]! < counted[best]!) best = i;
    }
    if (best < 0) continue;
    if (counted[best] === 0) chosen.push(best);
    counted[best]! += 1;
    if (counted[best] === limits.perPeer) open -= 1;
    blocks.push(block);
  }
  return { blocks, peers: chosen };
}
