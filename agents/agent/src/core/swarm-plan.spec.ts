import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { blockAvailability, peerBatch, peerBlocksInOrder, peersHolding, upstreamBlocks, type PeerHoldings } from './swarm-plan';

const none = new Set<number>();
const fixed = () => 0.5;

describe('blockAvailability', () => {
  test('counts complete peers for every block and partial ones for their runs', () => {
    const peers: PeerHoldings[] = [{ complete: true, runs: [] }, { complete: false, runs: [{ first: 1, count: 2 }] }, { complete: false, runs: [{ first: 2, count: 1 }] }];
    assert.deepEqual([...blockAvailability(4, peers)], [1, 2, 3, 1]);
  });

  test('clips runs outside the content instead of counting blocks that cannot exist', () => {
    assert.deepEqual([...blockAvailability(3, [{ complete: false, runs: [{ first: 2, count: 10 }, { first: 7, count: 1 }] }])], [0, 0, 1]);
  });
});

describe('peerBlocksInOrder', () => {
  test('rarest first; blocks no peer holds and blocks being fetched are left out', () => {
    const availability = Uint16Array.from([3, 1, 0, 2, 1]);
    assert.deepEqual(peerBlocksInOrder([0, 1, 2, 3, 4], availability, new Set([4]), fixed), [1, 3, 0]);
  });

  test('ties are shuffled by the random source, so that fetchers of an office spread', () => {
    const availability = Uint16Array.from([1, 1, 1, 1]);
    const up = [0.1, 0.2, 0.3, 0.4];
    const down = [0.4, 0.3, 0.2, 0.1];
    assert.deepEqual(peerBlocksInOrder([0, 1, 2, 3], availability, none, () => up.shift()!), [0, 1, 2, 3]);
    assert.deepEqual(peerBlocksInOrder([0, 1, 2, 3], availability, none, () => down.shift()!), [3, 2, 1, 0]);
  });
});

describe('upstreamBlocks', () => {
  test('only blocks no peer holds, in index order, at most max, not those being fetched', () => {
    const availability = Uint16Array.from([0, 1, 0, 0, 0, 0]);
    assert.deepEqual(upstreamBlocks([0, 1, 2, 3, 4, 5], availability, new Set([2]), 3), [0, 3, 4]);
  });

  test('nothing when the office holds every missing block', () => {
    assert.deepEqual(upstreamBlocks([0, 1], Uint16Array.from([1, 2]), none, 8), []);
  });
});

describe('peersHolding', () => {
  test('complete peers and partial peers with one of the blocks', () => {
    const peers: PeerHoldings[] = [{ complete: false, runs: [{ first: 0, count: 2 }] }, { complete: true, runs: [] }, { complete: false, runs: [{ first: 5, count: 1 }] }];
    assert.deepEqual(peersHolding([1, 3], peers), [0, 1]);
    assert.deepEqual(peersHolding([5], peers), [1, 2]);
  });
});

describe('peerBatch', () => {
  const limits = { maxBlocks: 16, perPeer: 4, maxPeers: 8 };

  test('a lone holder gets perPeer blocks, not the whole batch', () => {
    const order = [...Array(64).keys()];
    assert.deepEqual(peerBatch(order, [{ complete: true, runs: [] }], limits, fixed), { blocks: [0, 1, 2, 3], peers: [0] });
  });

  test('blocks go to the holder with the fewest so far; a block whose holders are full waits', () => {
    const peers: PeerHoldings[] = [
      { complete: true, runs: [] },
      { complete: false, runs: [{ first: 0, count: 3 }] },
    ];
    // Blocks 5..9 only the complete peer holds: after 4 of them, the rest wait; 0..2 go to the partial one.
    const batch = peerBatch([5, 6, 7, 8, 9, 0, 1, 2], peers, limits, fixed);
    assert.deepEqual(batch.blocks, [5, 6, 7, 8, 0, 1, 2]);
    assert.deepEqual(batch.peers, [0, 1]);
  });

  test('spreads over holders up to maxBlocks and maxPeers', () => {
    const peers: PeerHoldings[] = Array.from({ length: 10 }, () => ({ complete: true, runs: [] }));
    const batch = peerBatch([...Array(64).keys()], peers, { maxBlocks: 16, perPeer: 4, maxPeers: 3 }, fixed);
    assert.equal(batch.blocks.length, 12);
    assert.equal(batch.peers.length, 3);
  });

  test('the first holder is drawn with the random source, so that fetchers do not all pick the same peer', () => {
    const peers: PeerHoldings[] = [{ complete: true, runs: [] }, { complete: true, runs: [] }];
    const up = [0.1, 0.9];
    const down = [0.9, 0.1];
    assert.deepEqual(peerBatch([0], peers, limits, () => up.shift()!).peers, [0]);
    assert.deepEqual(peerBatch([0], peers, limits, () => down.shift()!).peers, [1]);
  });

  test('runs outside the content are ignored; nothing held means an empty batch', () => {
    assert.deepEqual(peerBatch([0, 1], [{ complete: false, runs: [{ first: 5, count: 3 }] }], limits, fixed), { blocks: [], peers: [] });
  });
});
