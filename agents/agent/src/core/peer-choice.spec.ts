import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PeerChoice, PeerView, choosePeer } from './peer-choice';

const all = new Set([0, 1, 2, 3, 4, 5]);
const low = new Set([0, 1, 2]);

function peer(over: Partial<PeerView> = {}): PeerView {
  return { holds: all, inFlight: 0, assigned: 0, bad: false, notBefore: 0, ...over };
}

test('choosePeer: table of who gets a block', () => {
  const now = 1000;
  const cases: Array<{ name: string; block: number; peers: PeerView[]; excluded?: number[]; max?: number; want: PeerChoice }> = [
    { name: 'no peers', block: 0, peers: [], want: { kind: 'none' } },
    { name: 'nobody holds it', block: 4, peers: [peer({ holds: low })], want: { kind: 'none' } },
    { name: 'tie goes to the lower index', block: 0, peers: [peer(), peer()], want: { kind: 'peer', peer: 0 } },
    { name: 'fewer in flight wins', block: 0, peers: [peer({ inFlight: 1 }), peer()], want: { kind: 'peer', peer: 1 } },
    { name: 'then fewer given so far (spreads over peers)', block: 0, peers: [peer({ assigned: 3 }), peer({ assigned: 2 })], want: { kind: 'peer', peer: 1 } },
    { name: 'only the holder counts', block: 4, peers: [peer({ holds: low }), peer({ inFlight: 1, assigned: 9 })], want: { kind: 'peer', peer: 1 } },
    { name: 'a bad peer is never asked', block: 0, peers: [peer({ bad: true }), peer({ inFlight: 1 })], want: { kind: 'peer', peer: 1 } },
    { name: 'only bad peers hold it', block: 0, peers: [peer({ bad: true })], want: { kind: 'none' } },
    { name: 'a peer that failed this block is not asked again', block: 2, peers: [peer(), peer({ holds: low })], excluded: [0], want: { kind: 'peer', peer: 1 } },
    { name: 'every holder failed it', block: 2, peers: [peer()], excluded: [0], want: { kind: 'none' } },
    { name: 'all holders at capacity: wait for a request to end', block: 0, peers: [peer({ inFlight: 2 })], want: { kind: 'wait', until: null } },
    { name: 'a holder backing off: wait until it may be asked', block: 0, peers: [peer({ notBefore: 1500 }), peer({ notBefore: 1200 })], want: { kind: 'wait', until: 1200 } },
    { name: 'a back-off that has passed does not count', block: 0, peers: [peer({ notBefore: 1000 })], want: { kind: 'peer', peer: 0 } },
    { name: 'a free holder beats one backing off', block: 0, peers: [peer({ notBefore: 5000 }), peer({ inFlight: 1 })], want: { kind: 'peer', peer: 1 } },
    { name: 'per-peer limit is a parameter', block: 0, peers: [peer({ inFlight: 3 })], max: 4, want: { kind: 'peer', peer: 0 } },
  ];
  for (const c of cases) {
    assert.deepEqual(choosePeer(c.block, c.peers, new Set(c.excluded ?? []), c.max ?? 2, now), c.want, c.name);
  }
});

test('choosePeer: handing out six blocks to two equal peers alternates between them', () => {
  const peers = [peer(), peer()];
  const given: number[] = [];
  for (let block = 0; block < 6; block++) {
    const choice = choosePeer(block, peers, new Set(), 8, 0);
    assert.equal(choice.kind, 'peer');
    if (choice.kind !== 'peer') return;
    peers[choice.peer]!.inFlight += 1;
    peers[choice.peer]!.assigned += 1;
    given.push(choice.peer);
  }
  assert.deepEqual(given, [0, 1, 0, 1, 0, 1]);
});
