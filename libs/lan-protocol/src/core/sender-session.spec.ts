import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionLayout, groupDataCount, groupsInBlock } from './block-layout';
import {
  SenderPacket,
  SenderSessionContext,
  SenderSessionEffect,
  SenderSessionEvent,
  SenderSessionOptions,
  SenderSessionState,
  newSenderSession,
  reduceSenderSession,
  senderSessionContext,
} from './sender-session';

/** Three blocks of 4,096, 4,096 and 1,808 bytes in 100-byte symbols, k = 8: 6, 6 and 3 groups. */
const LAYOUT: SessionLayout = { size: 10_000, blockSize: 4096, symbolSize: 100, groupDataSymbols: 8 };
const IDS = { sessionId: '0011223344556677', senderId: '8899aabbccddeeff', weight: 10, contentId: 'ab'.repeat(32) };

function context(options: Partial<SenderSessionOptions> = {}): SenderSessionContext {
  return senderSessionContext(LAYOUT, IDS, { maxPacketsPerTick: 10_000, ...options });
}

function run(state: SenderSessionState, steps: Array<[SenderSessionEvent, number]>, ctx: SenderSessionContext) {
  const effects: SenderSessionEffect[] = [];
  for (const [event, now] of steps) {
    const result = reduceSenderSession(state, event, now, ctx);
    state = result.state;
    effects.push(...result.effects);
  }
  return { state, effects };
}

const sends = (effects: SenderSessionEffect[]): SenderPacket[] => effects.flatMap((e) => (e.type === 'send' ? [e.packet] : []));
const symbols = (effects: SenderSessionEffect[]) => sends(effects).filter((p) => p.kind !== 'announce');
const announces = (effects: SenderSessionEffect[]) => sends(effects).flatMap((p) => (p.kind === 'announce' ? [p.packet] : []));
const lastSchedule = (effects: SenderSessionEffect[]) => [...effects].reverse().find((e) => e.type === 'schedule');

test('sender: gathering announces only; the first pass sends every block in order, announced, data then proactive parity per group', () => {
  const ctx = context({ proactiveParity: 1 });
  let { state, effects } = run(newSenderSession(LAYOUT, 0), [[{ type: 'block-ready', index: 0 }, 0], [{ type: 'tick' }, 0]], ctx);
  assert.deepEqual(symbols(effects), []);
  assert.equal(announces(effects)[0]?.phase, 'gathering');
  ({ state, effects } = run(state, [[{ type: 'block-ready', index: 1 }, 5], [{ type: 'block-ready', index: 2 }, 5], [{ type: 'start' }, 10], [{ type: 'tick' }, 10]], ctx));
  const sent = symbols(effects);
  const expected: SenderPacket[] = [];
  for (let block = 0; block < 3; block++) {
    for (let group = 0; group < groupsInBlock(LAYOUT, block); group++) {
      for (let index = 0; index < groupDataCount(LAYOUT, block, group); index++) expected.push({ kind: 'data', block, group, index });
      expected.push({ kind: 'parity', block, group, index: 0 });
    }
  }
  assert.deepEqual(sent, expected);
  assert.equal(state.stats.dataSent, 101);
  assert.equal(state.stats.proactiveParitySent, 15);
  assert.equal(state.phase, 'repairing');
  // Each block is announced before its first symbol, so a receiver that missed one learns the layout within a block.
  assert.deepEqual(announces(effects).map((a) => [a.phase, a.sendingBlock]), [['sending', 0], ['sending', 1], ['sending', 2], ['repairing', 3]]);
  assert.deepEqual(
    sends(effects).flatMap((p, i, all) => (p.kind === 'announce' && p.packet.phase === 'sending' ? [all[i + 1]] : [])),
    [0, 1, 2].map((block) => ({ kind: 'data', block, group: 0, index: 0 })),
  );
});

test('sender: the rate and the minimum gap pace the packets; tick returns only what is due', () => {
  // 100-byte symbol + 31 overhead + 28 IP/UDP = 159 bytes = 1,272 bits: 1.272 ms each at 1,000 kbit/s.
  // Each row: a first tick at -100 ms spends the start's credit; the row counts the symbols of a second tick at `at`.
  const table: Array<{ name: string; options: Partial<SenderSessionOptions>; at: number; expected: number }> = [
    { name: 'unlimited: the first tick sent all 101, nothing is left', options: {}, at: 0, expected: 0 },
    { name: '1 Mbit/s, 100 ms idle: only 2 ms of credit, so 2 symbols', options: { rateKbps: 1000 }, at: 0, expected: 2 },
    { name: '1 Mbit/s, 90 ms idle: the same cap', options: { rateKbps: 1000 }, at: -10, expected: 2 },
    { name: 'gap 1 ms: one per tick', options: { minGapMs: 1 }, at: 0, expected: 1 },
  ];
  for (const row of table) {
    const ctx = context({ ...row.options, announceIntervalMs: 1e9 });
    let state = newSenderSession(LAYOUT, -100);
    for (const index of [0, 1, 2]) state = reduceSenderSession(state, { type: 'block-ready', index }, -100, ctx).state;
    state = reduceSenderSession(state, { type: 'start' }, -100, ctx).state;
    const first = reduceSenderSession(state, { type: 'tick' }, -100, ctx);
    if (row.options.rateKbps === undefined && row.options.minGapMs === undefined) assert.equal(symbols(first.effects).length, 101, row.name);
    const { effects } = reduceSenderSession(first.state, { type: 'tick' }, row.at, ctx);
    assert.equal(symbols(effects).length, row.expected, row.name);
  }
  // The schedule asks for the next tick exactly when the next packet is due.
  const ctx = context({ rateKbps: 1000, burstMs: 0, announceIntervalMs: 1e9 });
  let { state, effects } = run(newSenderSession(LAYOUT, 0), [[{ type: 'block-ready', index: 0 }, 0], [{ type: 'start' }, 0], [{ type: 'tick' }, 0]], ctx);
  assert.equal(symbols(effects).length, 0, 'the ANNOUNCE (94 bytes + 28) took the first 0.976 ms');
  let next = lastSchedule(effects);
  assert.ok(next?.type === 'schedule' && Math.abs(next.atMs - 0.976) < 1e-9, `next tick at ${JSON.stringify(next)}`);
  ({ state, effects } = run(state, [[{ type: 'tick' }, 0.976]], ctx));
  assert.equal(symbols(effects).length, 1);
  next = lastSchedule(effects);
  assert.ok(next?.type === 'schedule' && Math.abs(next.atMs - (0.976 + 1.272)) < 1e-9, `next tick at ${JSON.stringify(next)}`);
});

test('sender: the LAN follows the WAN; a wait for a block is announced at once', () => {
  const ctx = context({ announceIntervalMs: 1e9 });
  let { state, effects } = run(newSenderSession(LAYOUT, 0), [[{ type: 'block-ready', index: 0 }, 0], [{ type: 'start' }, 0], [{ type: 'tick' }, 0]], ctx);
  assert.equal(symbols(effects).length, 41);
  assert.deepEqual(announces(effects).map((a) => [a.phase, a.blocksReady, a.sendingBlock]), [['sending', 1, 0], ['sending', 1, 1]]);
  ({ state, effects } = run(state, [[{ type: 'tick' }, 1], [{ type: 'tick' }, 2]], ctx));
  assert.deepEqual(sends(effects), [], 'announced once per wait');
  ({ state, effects } = run(state, [[{ type: 'block-ready', index: 2 }, 3], [{ type: 'tick' }, 3]], ctx));
  assert.deepEqual(symbols(effects).map((p) => p.block), new Array(19).fill(2), 'a later block that is ready goes first');
  ({ state, effects } = run(state, [[{ type: 'block-ready', index: 1 }, 4], [{ type: 'tick' }, 4]], ctx));
  assert.equal(symbols(effects).length, 41);
  assert.equal(state.phase, 'repairing');
});

test('sender: NACKs are answered with the max over receivers in fresh parity, ahead of new data; unsent groups are ignored', () => {
  const ctx = context({ proactiveParity: 1, rateKbps: 1000, burstMs: 0, announceIntervalMs: 1e9 });
  let { state, effects } = run(newSenderSession(LAYOUT, 0), [[{ type: 'block-ready', index: 0 }, 0], [{ type: 'block-ready', index: 1 }, 0], [{ type: 'start' }, 0]], ctx);
  // Let the pass run to block 0 group 3.
  for (let t = 0; state.cursor?.block === 0 ? state.cursor.group < 3 : true; t += 1) ({ state } = run(state, [[{ type: 'tick' }, t]], ctx));
  const now = 100;
  ({ state, effects } = run(
    state,
    [
      [{ type: 'nack', entries: [{ block: 0, firstGroup: 1, groupCount: 1, missing: 2 }] }, now],
      [{ type: 'nack', entries: [{ block: 0, firstGroup: 1, groupCount: 1, missing: 3 }, { block: 0, firstGroup: 0, groupCount: 1, missing: 1 }] }, now + 1],
      [{ type: 'nack', entries: [{ block: 1, firstGroup: 0, groupCount: 2, missing: 4 }] }, now + 2],
    ],
    ctx,
  ));
  assert.equal(state.stats.nacksIgnored, 1, 'block 1 is not sent yet');
  ({ state, effects } = run(state, Array.from({ length: 20 }, (_, i): [SenderSessionEvent, number] => [{ type: 'tick' }, now + 20 + i]), ctx));
  const sent = symbols(effects).slice(0, 4);
  assert.deepEqual(sent, [
    { kind: 'parity', block: 0, group: 0, index: 1 },
    { kind: 'parity', block: 0, group: 1, index: 1 },
    { kind: 'parity', block: 0, group: 1, index: 2 },
    { kind: 'parity', block: 0, group: 1, index: 3 },
  ]);
  assert.equal(state.stats.repairParitySent, 4, 'max (3) for group 1, not the sum (5)');
});

test('sender: quiet after the pass closes the session with closing ANNOUNCEs; a NACK while closing reopens repair', () => {
  // One pass-end ANNOUNCE: its repeats (tested below) would precede the closing ones in the tick at 100.
  const ctx = context({ quietMs: 100, closingAnnounces: 2, closingIntervalMs: 10, announceIntervalMs: 1e9, passEndAnnounces: 1 });
  let state = newSenderSession(LAYOUT, 0);
  let effects: SenderSessionEffect[];
  ({ state } = run(state, [[{ type: 'block-ready', index: 0 }, 0], [{ type: 'block-ready', index: 1 }, 0], [{ type: 'block-ready', index: 2 }, 0], [{ type: 'start' }, 0], [{ type: 'tick' }, 0]], ctx));
  assert.equal(state.phase, 'repairing');
  ({ state, effects } = run(state, [[{ type: 'tick' }, 100]], ctx));
  assert.equal(state.phase, 'closing');
  assert.deepEqual(announces(effects).map((a) => [a.phase, a.sendingBlock]), [['closing', 3]]);
  ({ state, effects } = run(state, [[{ type: 'nack', entries: [{ block: 2, firstGroup: 2, groupCount: 1, missing: 1 }] }, 105], [{ type: 'tick' }, 125]], ctx));
  assert.equal(state.phase, 'repairing');
  assert.deepEqual(symbols(effects), [{ kind: 'parity', block: 2, group: 2, index: 0 }]);
  ({ state, effects } = run(state, [[{ type: 'tick' }, 225], [{ type: 'tick' }, 235], [{ type: 'tick' }, 245]], ctx));
  assert.equal(state.phase, 'closed');
  assert.equal(announces(effects).filter((a) => a.phase === 'closing').length, 2);
  assert.ok(effects.some((e) => e.type === 'closed'));
  assert.deepEqual(run(state, [[{ type: 'tick' }, 300]], ctx).effects, [], 'closed is final');
});

test('sender: every expected receiver done closes the session after the pass without the quiet period, its closing ANNOUNCEs back to back; a NACK after it restores the quiet', () => {
  const ctx = context({ quietMs: 1_000, closingAnnounces: 3, closingIntervalMs: 100, announceIntervalMs: 1e9 });
  const ready: Array<[SenderSessionEvent, number]> = [0, 1, 2].map((index) => [{ type: 'block-ready', index }, 0]);
  // Done before the pass ends: the session closes right after it.
  let { state, effects } = run(newSenderSession(LAYOUT, 0), [...ready, [{ type: 'start' }, 0], [{ type: 'receivers-done' }, 0], [{ type: 'tick' }, 0]], ctx);
  assert.equal(state.phase, 'closing');
  let closing = announces(effects).filter((a) => a.phase === 'closing').length;
  assert.equal(lastSchedule(effects)?.type === 'schedule' && lastSchedule(effects)?.atMs, 0, 'the next tick is due at once');
  // Every tick due at once sends the next copy, without the 100 ms spacing: nobody waits for repairs any more.
  for (let tick = 0; tick < 3 && state.phase !== 'closed'; tick++) {
    ({ state, effects } = run(state, [[{ type: 'tick' }, 1]], ctx));
    closing += announces(effects).filter((a) => a.phase === 'closing').length;
  }
  assert.equal(state.phase, 'closed', 'closed within 1 ms of the pass end');
  assert.equal(closing, 3, 'a late joiner or a receiver nobody expected still hears one of them');
  assert.ok(effects.some((e) => e.type === 'closed'));

  // A NACK after the DONEs (a receiver nobody expected): repair, then the quiet period again.
  ({ state } = run(newSenderSession(LAYOUT, 0), [...ready, [{ type: 'start' }, 0], [{ type: 'tick' }, 0], [{ type: 'receivers-done' }, 1]], ctx));
  assert.equal(state.phase, 'repairing');
  ({ state, effects } = run(state, [[{ type: 'nack', entries: [{ block: 0, firstGroup: 0, groupCount: 1, missing: 1 }] }, 2], [{ type: 'tick' }, 50]], ctx));
  assert.deepEqual(symbols(effects), [{ kind: 'parity', block: 0, group: 0, index: 0 }]);
  ({ state } = run(state, [[{ type: 'tick' }, 500]], ctx));
  assert.equal(state.phase, 'repairing', 'the quiet period applies again');
});

test('sender: the ANNOUNCE that says the pass is over goes out passEndAnnounces times, passEndIntervalMs apart, then at the keep-alive interval', () => {
  const ctx = context({ quietMs: 10_000, announceIntervalMs: 1_000, passEndAnnounces: 3, passEndIntervalMs: 20 });
  const ready: Array<[SenderSessionEvent, number]> = [0, 1, 2].map((index) => [{ type: 'block-ready', index }, 0]);
  let { state, effects } = run(newSenderSession(LAYOUT, 0), [...ready, [{ type: 'start' }, 0], [{ type: 'tick' }, 0]], ctx);
  assert.equal(state.phase, 'repairing');
  const times: number[] = announces(effects).some((a) => a.phase === 'repairing') ? [0] : [];
  for (const now of [10, 20, 30, 40, 50, 500, 1_000, 1_039, 1_040, 1_060]) {
    ({ state, effects } = run(state, [[{ type: 'tick' }, now]], ctx));
    if (announces(effects).some((a) => a.phase === 'repairing')) times.push(now);
  }
  assert.deepEqual(times, [0, 20, 40, 1_040], 'three copies at the pass end, then the keep-alive');
  assert.throws(() => context({ passEndAnnounces: 0 }), RangeError);
});
