import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionLayout, blockCountOf, blockLength, groupDataCount, groupsInBlock, symbolSpan } from './block-layout';
import { createErasureCoder } from './fec';
import {
  ReceiverSessionContext,
  ReceiverSessionEffect,
  ReceiverSessionEvent,
  ReceiverSessionState,
  decodeGroupBytes,
  newReceiverSession,
  reduceReceiverSession,
} from './receiver-session';
import { DEFAULT_REPAIR_OPTIONS, nackBackoffMs } from './repair';
import { seededRandom } from './seeded-random';
import { SenderPacket, newSenderSession, reduceSenderSession, senderSessionContext } from './sender-session';

/** Three blocks of 4,096, 4,096 and 1,808 bytes in 100-byte symbols, k = 8: 6, 6 and 3 groups. */
const LAYOUT: SessionLayout = { size: 10_000, blockSize: 4096, symbolSize: 100, groupDataSymbols: 8 };
const CONTENT = Uint8Array.from({ length: LAYOUT.size }, (_, i) => (i * 31 + (i >> 8)) & 0xff);
const blockBytes = (b: number) => CONTENT.subarray(b * LAYOUT.blockSize, b * LAYOUT.blockSize + blockLength(LAYOUT, b));
const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);
const HALF = nackBackoffMs(0.5, DEFAULT_REPAIR_OPTIONS.nackBackoffMaxMs, DEFAULT_REPAIR_OPTIONS.receiversEstimate);

function context(verify = (b: number, bytes: Uint8Array) => sameBytes(bytes, blockBytes(b)), random = () => 0.5): ReceiverSessionContext {
  return { layout: LAYOUT, repair: DEFAULT_REPAIR_OPTIONS, random, verify };
}

function dataSymbol(block: number, group: number, index: number): Uint8Array {
  const { start, end } = symbolSpan(LAYOUT, block, group, index);
  return blockBytes(block).subarray(start, end);
}

function paritySymbol(block: number, group: number, index: number): Uint8Array {
  const k = groupDataCount(LAYOUT, block, group);
  const data = Array.from({ length: k }, (_, i) => dataSymbol(block, group, i));
  return createErasureCoder(k, 0).encode(data, [index])[0];
}

const data = (block: number, group: number, index: number): ReceiverSessionEvent => ({ type: 'symbol', kind: 'data', block, group, index, payload: dataSymbol(block, group, index) });
const parity = (block: number, group: number, index: number): ReceiverSessionEvent => ({ type: 'symbol', kind: 'parity', block, group, index, payload: paritySymbol(block, group, index) });

/** Feeds events; answers every decode-group at once, as the adapter does. */
function run(state: ReceiverSessionState, steps: Array<[ReceiverSessionEvent, number]>, ctx = context()) {
  const effects: ReceiverSessionEffect[] = [];
  const queue = [...steps];
  while (queue.length > 0) {
    const [event, now] = queue.shift() as [ReceiverSessionEvent, number];
    const result = reduceReceiverSession(state, event, now, ctx);
    state = result.state;
    for (const effect of result.effects) {
      effects.push(effect);
      if (effect.type === 'decode-group') {
        const bytes = decodeGroupBytes(LAYOUT, effect.block, effect.group, effect.symbols);
        assert.ok(bytes !== null);
        queue.unshift([{ type: 'group-decoded', block: effect.block, group: effect.group, bytes }, now]);
      }
    }
  }
  return { state, effects };
}

function blockEvents(block: number, skip: (group: number, index: number) => boolean = () => false): Array<[ReceiverSessionEvent, number]> {
  const out: Array<[ReceiverSessionEvent, number]> = [];
  for (let g = 0; g < groupsInBlock(LAYOUT, block); g++) {
    for (let i = 0; i < groupDataCount(LAYOUT, block, g); i++) if (!skip(g, i)) out.push([data(block, g, i), 0]);
  }
  return out;
}

const of = <T extends ReceiverSessionEffect['type']>(effects: ReceiverSessionEffect[], type: T) => effects.filter((e): e is Extract<ReceiverSessionEffect, { type: T }> => e.type === type);

test('receiver: every data symbol arrives: each group decodes, each block completes verified, then finished', () => {
  const { state, effects } = run(newReceiverSession(LAYOUT, [0, 1, 2]), [0, 1, 2].flatMap((b) => blockEvents(b)));
  assert.equal(of(effects, 'decode-group').length, 15);
  assert.deepEqual(of(effects, 'block-complete').map((e) => e.index), [0, 1, 2]);
  for (const e of of(effects, 'block-complete')) assert.ok(sameBytes(e.bytes, blockBytes(e.index)));
  assert.deepEqual(of(effects, 'finished'), [{ type: 'finished', missing: [] }]);
  assert.deepEqual(of(effects, 'send-nack'), []);
  assert.equal(state.phase, 'finished');
});

test('receiver: losses in a passed group are NACKed with the count missing; parity repairs them', () => {
  const table: Array<{ name: string; lost: Array<[number, number]>; nack: Array<{ firstGroup: number; groupCount: number; missing: number }>; parity: Array<[number, number]> }> = [
    { name: 'one lost', lost: [[1, 3]], nack: [{ firstGroup: 1, groupCount: 1, missing: 1 }], parity: [[1, 0]] },
    { name: 'two in one group', lost: [[2, 0], [2, 7]], nack: [{ firstGroup: 2, groupCount: 1, missing: 2 }], parity: [[2, 0], [2, 1]] },
    { name: 'runs of equal counts', lost: [[0, 1], [1, 1], [3, 4]], nack: [{ firstGroup: 0, groupCount: 2, missing: 1 }, { firstGroup: 3, groupCount: 1, missing: 1 }], parity: [[0, 0], [1, 0], [3, 0]] },
  ];
  for (const row of table) {
    const lost = new Set(row.lost.map(([g, i]) => `${g}/${i}`));
    let { state, effects } = run(newReceiverSession(LAYOUT, [0]), blockEvents(0, (g, i) => lost.has(`${g}/${i}`)));
    ({ state, effects } = run(state, [[data(1, 0, 0), 1], [{ type: 'timer' }, 1 + HALF]]));
    assert.deepEqual(of(effects, 'send-nack').map((e) => e.entries), [row.nack.map((n) => ({ block: 0, ...n }))], row.name);
    ({ state, effects } = run(state, row.parity.map(([g, i]): [ReceiverSessionEvent, number] => [parity(0, g, i), 10])));
    assert.deepEqual(of(effects, 'block-complete').map((e) => e.index), [0], row.name);
    assert.ok(sameBytes(of(effects, 'block-complete')[0].bytes, blockBytes(0)), row.name);
    assert.deepEqual(of(effects, 'finished'), [{ type: 'finished', missing: [] }], row.name);
  }
});

test('receiver: a block that fails the manifest is rejected, counted, and asked for again in full', () => {
  let calls = 0;
  const ctx = context((b, bytes) => ++calls > 1 && sameBytes(bytes, blockBytes(b)));
  let { state, effects } = run(newReceiverSession(LAYOUT, [2]), blockEvents(2), ctx);
  assert.deepEqual(of(effects, 'block-rejected'), [{ type: 'block-rejected', index: 2 }]);
  assert.equal(state.stats.blocksRejected, 1);
  // The whole block is passed once the session announces the pass is over: every group asks k.
  ({ state, effects } = run(state, [[{ type: 'announce', packet: { phase: 'repairing', sendingBlock: 3 } }, 5], [{ type: 'timer' }, 5 + HALF]], ctx));
  assert.deepEqual(of(effects, 'send-nack')[0]?.entries, [
    { block: 2, firstGroup: 0, groupCount: 2, missing: 8 },
    { block: 2, firstGroup: 2, groupCount: 1, missing: 3 },
  ]);
  const repairs: Array<[ReceiverSessionEvent, number]> = [];
  for (let g = 0; g < 3; g++) for (let i = 0; i < groupDataCount(LAYOUT, 2, g); i++) repairs.push([parity(2, g, 1 + i), 20]);
  ({ state, effects } = run(state, repairs, ctx));
  assert.deepEqual(of(effects, 'block-complete').map((e) => e.index), [2]);
});

test('receiver: a late joiner never NACKs the blocks before it joined and reports them missing at closing', () => {
  let { state, effects } = run(newReceiverSession(LAYOUT, [0, 1, 2]), [[{ type: 'announce', packet: { phase: 'sending', sendingBlock: 1 } }, 0], ...blockEvents(1, (g, i) => g === 0 && i === 0), ...blockEvents(2)]);
  assert.deepEqual(of(effects, 'block-complete').map((e) => e.index), [2]);
  ({ state, effects } = run(state, [[{ type: 'announce', packet: { phase: 'repairing', sendingBlock: 3 } }, 1], [{ type: 'timer' }, 1 + HALF]]));
  assert.deepEqual(of(effects, 'send-nack').map((e) => e.entries), [[{ block: 1, firstGroup: 0, groupCount: 1, missing: 1 }]], 'only block 1, where it joined');
  assert.deepEqual(of(effects, 'session-done'), [], 'block 1 is still being repaired');
  ({ state, effects } = run(state, [[{ type: 'announce', packet: { phase: 'closing', sendingBlock: 3 } }, 2]]));
  assert.deepEqual(of(effects, 'finished'), [{ type: 'finished', missing: [0, 1] }]);
  assert.equal(state.phase, 'finished');
});

test('receiver: a late joiner complete from its join point on says session-done once the pass is over, not before, once, and keeps listening until closing', () => {
  // Joined at block 1; blocks 1 and 2 whole.
  let { state, effects } = run(newReceiverSession(LAYOUT, [0, 1, 2]), [[{ type: 'announce', packet: { phase: 'sending', sendingBlock: 1 } }, 0], ...blockEvents(1), ...blockEvents(2)]);
  assert.deepEqual(of(effects, 'block-complete').map((e) => e.index), [1, 2]);
  assert.deepEqual(of(effects, 'session-done'), [], 'the pass is not over: the sender has not said so');
  ({ state, effects } = run(state, [[{ type: 'announce', packet: { phase: 'repairing', sendingBlock: 3 } }, 1], [{ type: 'announce', packet: { phase: 'repairing', sendingBlock: 3 } }, 2]]));
  assert.deepEqual(of(effects, 'session-done'), [{ type: 'session-done', missing: [0] }], 'once, naming what comes from elsewhere');
  assert.deepEqual(of(effects, 'send-nack'), [], 'block 0 is never asked for');
  assert.equal(state.phase, 'listening');
  ({ state, effects } = run(state, [[{ type: 'announce', packet: { phase: 'closing', sendingBlock: 3 } }, 3]]));
  assert.deepEqual(of(effects, 'finished'), [{ type: 'finished', missing: [0] }]);

  // The last block of its part completed by a repair after the pass end: session-done then.
  ({ state, effects } = run(newReceiverSession(LAYOUT, [0, 1, 2]), [
    [{ type: 'announce', packet: { phase: 'sending', sendingBlock: 1 } }, 0],
    ...blockEvents(1),
    ...blockEvents(2, (g, i) => g === 2 && i === 0),
    [{ type: 'announce', packet: { phase: 'repairing', sendingBlock: 3 } }, 1],
  ]));
  assert.deepEqual(of(effects, 'session-done'), []);
  ({ state, effects } = run(state, [[parity(2, 2, 0), 50]]));
  assert.deepEqual(of(effects, 'block-complete').map((e) => e.index), [2]);
  assert.deepEqual(of(effects, 'session-done'), [{ type: 'session-done', missing: [0] }]);

  // A receiver that joined at block 0 never says it: everything it lacks is the session's to repair.
  ({ effects } = run(newReceiverSession(LAYOUT, [0, 1, 2]), [...blockEvents(0, (g) => g === 1), ...blockEvents(1), ...blockEvents(2), [{ type: 'announce', packet: { phase: 'repairing', sendingBlock: 3 } }, 1]]));
  assert.deepEqual(of(effects, 'session-done'), []);
});

test('receiver: symbols with lengths or addresses outside the layout are ignored', () => {
  const { state, effects } = run(newReceiverSession(LAYOUT, [0, 1, 2]), [
    [{ type: 'symbol', kind: 'data', block: 0, group: 0, index: 0, payload: new Uint8Array(99) }, 0],
    [{ type: 'symbol', kind: 'data', block: 0, group: 6, index: 0, payload: new Uint8Array(100) }, 0],
    [{ type: 'symbol', kind: 'data', block: 3, group: 0, index: 0, payload: new Uint8Array(100) }, 0],
    [{ type: 'symbol', kind: 'parity', block: 2, group: 2, index: 0, payload: new Uint8Array(8) }, 0],
  ]);
  assert.deepEqual(effects, []);
  assert.equal(state.stats.symbolsReceived, 0);
});

test('simulation: one sender, three receivers losing 5 % each: all complete, parity sent follows the worst receiver, not the sum', () => {
  const layout: SessionLayout = { size: 300_000, blockSize: 65_536, symbolSize: 1000, groupDataSymbols: 16 };
  const content = Uint8Array.from({ length: layout.size }, (_, i) => (i * 7 + (i >> 9)) & 0xff);
  const bytesOf = (b: number) => content.subarray(b * layout.blockSize, b * layout.blockSize + blockLength(layout, b));
  const ids = { sessionId: '0011223344556677', senderId: '8899aabbccddeeff', weight: 10, contentId: 'ab'.repeat(32) };
  const sctx = senderSessionContext(layout, ids, { rateKbps: 100_000 });
  const random = seededRandom(7);
  const rctx: ReceiverSessionContext = { layout, repair: DEFAULT_REPAIR_OPTIONS, random, verify: (b, bytes) => sameBytes(bytes, bytesOf(b)) };
  const blocks = blockCountOf(layout);
  let sender = newSenderSession(layout, 0);
  for (let b = 0; b < blocks; b++) sender = reduceSenderSession(sender, { type: 'block-ready', index: b }, 0, sctx).state;
  sender = reduceSenderSession(sender, { type: 'start' }, 0, sctx).state;
  const receivers = [0, 1, 2].map(() => ({ state: newReceiverSession(layout, Array.from({ length: blocks }, (_, b) => b)), timer: null as number | null, lost: 0, got: new Map<number, Uint8Array>() }));
  let senderTimer: number | null = 0;
  const nacksToSender: Array<{ at: number; entries: import('../protocol/packets').NackEntry[] }> = [];
  const payloadOf = (p: Extract<SenderPacket, { kind: 'data' | 'parity' }>) => {
    const k = groupDataCount(layout, p.block, p.group);
    const symbols = Array.from({ length: k }, (_, i) => {
      const { start, end } = symbolSpan(layout, p.block, p.group, i);
      return bytesOf(p.block).subarray(start, end);
    });
    return p.kind === 'data' ? symbols[p.index] : createErasureCoder(k, 0).encode(symbols, [p.index])[0];
  };
  const deliver = (r: (typeof receivers)[number], event: ReceiverSessionEvent, now: number, index: number) => {
    const queue: ReceiverSessionEvent[] = [event];
    while (queue.length > 0) {
      const result = reduceReceiverSession(r.state, queue.shift() as ReceiverSessionEvent, now, rctx);
      r.state = result.state;
      for (const e of result.effects) {
        if (e.type === 'decode-group') queue.unshift({ type: 'group-decoded', block: e.block, group: e.group, bytes: decodeGroupBytes(layout, e.block, e.group, e.symbols) as Uint8Array });
        else if (e.type === 'block-complete') r.got.set(e.index, e.bytes);
        else if (e.type === 'schedule') r.timer = e.atMs;
        else if (e.type === 'cancel') r.timer = null;
        else if (e.type === 'send-nack') {
          nacksToSender.push({ at: now + 0.1, entries: e.entries });
          receivers.forEach((other, j) => j !== index && deliver(other, { type: 'nack-heard', entries: e.entries }, now + 0.1, j));
        }
      }
    }
  };
  let closed = false;
  for (let now = 0; now < 20_000 && !closed; now += 0.25) {
    for (const n of nacksToSender.splice(0).filter((n) => n.at <= now)) sender = reduceSenderSession(sender, { type: 'nack', entries: n.entries }, now, sctx).state;
    if (senderTimer !== null && now >= senderTimer) {
      const result = reduceSenderSession(sender, { type: 'tick' }, now, sctx);
      sender = result.state;
      for (const e of result.effects) {
        if (e.type === 'schedule') senderTimer = e.atMs;
        else if (e.type === 'closed') closed = true;
        else if (e.type === 'send') {
          receivers.forEach((r, i) => {
            if (random() < 0.05) {
              r.lost++;
              return;
            }
            const p = e.packet;
            deliver(r, p.kind === 'announce' ? { type: 'announce', packet: p.packet } : { type: 'symbol', kind: p.kind, block: p.block, group: p.group, index: p.index, payload: payloadOf(p) }, now, i);
          });
        }
      }
    }
    receivers.forEach((r, i) => r.timer !== null && now >= r.timer && deliver(r, { type: 'timer' }, now, i));
  }
  assert.ok(closed, 'the session closed');
  for (const r of receivers) {
    assert.equal(r.got.size, blocks);
    for (const [b, bytes] of r.got) assert.ok(sameBytes(bytes, bytesOf(b)));
  }
  const worst = Math.max(...receivers.map((r) => r.lost));
  const sum = receivers.reduce((s, r) => s + r.lost, 0);
  assert.ok(sender.stats.repairParitySent < sum * 0.8, `parity ${sender.stats.repairParitySent} is well below the sum of losses ${sum}`);
  assert.ok(sender.stats.repairParitySent <= worst * 2, `parity ${sender.stats.repairParitySent} stays near the worst receiver's loss ${worst}`);
});
