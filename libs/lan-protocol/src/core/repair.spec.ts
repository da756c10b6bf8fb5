import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_NACK_ENTRIES } from '../protocol/constants';
import type { NackEntry } from '../protocol/packets';
import { SessionLayout, groupKey } from './block-layout';
import {
  DEFAULT_REPAIR_OPTIONS,
  ReceiverRepairContext,
  ReceiverRepairEffect,
  ReceiverRepairEvent,
  ReceiverRepairState,
  SenderRepairContext,
  SenderRepairEffect,
  SenderRepairEvent,
  SenderRepairState,
  nackBackoffMs,
  newReceiverRepair,
  newSenderRepair,
  reduceReceiverRepair,
  reduceSenderRepair,
  resolveRepairOptions,
} from './repair';
import { seededRandom } from './seeded-random';

const O = DEFAULT_REPAIR_OPTIONS;
/** A receiver context whose random draw is always 0.5: back-off = nackBackoffMs(0.5, ...). */
const R: ReceiverRepairContext = { options: O, random: () => 0.5, maxNackEntries: MAX_NACK_ENTRIES };
const HALF = nackBackoffMs(0.5, O.nackBackoffMaxMs, O.receiversEstimate);

function receive(state: ReceiverRepairState, steps: Array<[ReceiverRepairEvent, number]>, context = R) {
  const effects: ReceiverRepairEffect[] = [];
  for (const [event, now] of steps) {
    const result = reduceReceiverRepair(state, event, now, context);
    state = result.state;
    effects.push(...result.effects);
  }
  return { state, effects };
}

/** Two blocks of 24 groups of 32 symbols (a 1 MiB block in 1,400-byte symbols), the last group of each 13. */
const LAYOUT: SessionLayout = { size: 2 * 1048576, blockSize: 1048576, symbolSize: 1400, groupDataSymbols: 32 };
const S: SenderRepairContext = { options: O, layout: LAYOUT, proactiveParity: 1 };

function send(state: SenderRepairState, steps: Array<[SenderRepairEvent, number]>, context = S) {
  const effects: SenderRepairEffect[] = [];
  for (const [event, now] of steps) {
    const result = reduceSenderRepair(state, event, now, context);
    state = result.state;
    effects.push(...result.effects);
  }
  return { state, effects };
}

const nack = (entries: NackEntry[]) => ({ type: 'nack-heard' as const, entries });
const need = (block: number, group: number, missing: number) => ({ block, group, missing });

test('back-off: truncated exponential over [0, max], most receivers draw late', () => {
  assert.equal(nackBackoffMs(0, 50, 100), 0);
  assert.ok(Math.abs(nackBackoffMs(0.999999, 50, 100) - 50) < 0.01);
  let previous = -1;
  for (let u = 0; u < 1; u += 0.01) {
    const t = nackBackoffMs(u, 50, 100);
    assert.ok(t > previous && t <= 50);
    previous = t;
  }
  // P(t <= max/2) = (e^(lambda/2) - 1) / (e^lambda - 1) = 5.7 % for 100 receivers: few early NACKs.
  const lambda = Math.log(100) + 1;
  const atHalf = (Math.exp(lambda / 2) - 1) / (Math.exp(lambda) - 1);
  assert.ok(Math.abs(nackBackoffMs(atHalf, 50, 100) - 25) < 1e-9);
  assert.ok(atHalf < 0.06);
  assert.throws(() => resolveRepairOptions({ repairWaitMs: 50 }), RangeError);
});

test('receiver: losses schedule a NACK; it names every open group as runs; then it waits for the repair', () => {
  let { state, effects } = receive(newReceiverRepair(), [[{ type: 'needs', changes: [need(0, 3, 2), need(0, 4, 2), need(0, 5, 2), need(0, 7, 1), need(1, 0, 2)] }, 1000]]);
  assert.deepEqual(effects, [{ type: 'schedule', atMs: 1000 + HALF }]);
  ({ state, effects } = receive(state, [[{ type: 'needs', changes: [need(0, 9, 1)] }, 1010]]));
  assert.deepEqual(effects, [], 'a pending back-off is not pushed back by new losses');
  ({ state, effects } = receive(state, [[{ type: 'timer' }, 1000 + HALF]]));
  assert.deepEqual(effects, [
    {
      type: 'send-nack',
      entries: [
        { block: 0, firstGroup: 3, groupCount: 3, missing: 2 },
        { block: 0, firstGroup: 7, groupCount: 1, missing: 1 },
        { block: 0, firstGroup: 9, groupCount: 1, missing: 1 },
        { block: 1, firstGroup: 0, groupCount: 1, missing: 2 },
      ],
    },
    { type: 'schedule', atMs: 1000 + HALF + O.repairWaitMs },
  ]);
  assert.equal(state.nacksSent, 1);
  // The repair arrives for everything but group 1/0, which got one symbol of two.
  ({ state, effects } = receive(state, [[{ type: 'needs', changes: [need(0, 3, 0), need(0, 4, 0), need(0, 5, 0), need(0, 7, 0), need(0, 9, 0), need(1, 0, 1)] }, 1100]]));
  assert.deepEqual(effects, [], 'still asked for: no new NACK while the repair may be on its way');
  // The wait ends with the group still short: a new round.
  const waitEnd = 1000 + HALF + O.repairWaitMs;
  ({ state, effects } = receive(state, [[{ type: 'timer' }, waitEnd]]));
  assert.deepEqual(effects, [{ type: 'schedule', atMs: waitEnd + HALF }]);
  ({ state, effects } = receive(state, [[{ type: 'timer' }, waitEnd + HALF]]));
  assert.deepEqual(effects[0], { type: 'send-nack', entries: [{ block: 1, firstGroup: 0, groupCount: 1, missing: 1 }] });
  ({ state, effects } = receive(state, [[{ type: 'needs', changes: [need(1, 0, 0)] }, 1500]]));
  assert.deepEqual(effects, [{ type: 'cancel' }], 'complete: no timer left');
  assert.equal(state.needs.size, 0);
  assert.equal(state.asked.size, 0);
});

interface ReceiverRow {
  name: string;
  needs: Array<ReturnType<typeof need>>;
  heard: NackEntry[];
  /** The NACK sent when the back-off ends; null when none is. */
  sent: NackEntry[] | null;
  suppressed: boolean;
}

const SUPPRESSION: ReceiverRow[] = [
  {
    name: 'another NACK for the same groups and counts: ours is cancelled',
    needs: [need(0, 1, 1), need(0, 2, 1)],
    heard: [{ block: 0, firstGroup: 1, groupCount: 2, missing: 1 }],
    sent: null,
    suppressed: true,
  },
  {
    name: 'another NACK asking more symbols covers ours',
    needs: [need(0, 1, 1)],
    heard: [{ block: 0, firstGroup: 0, groupCount: 5, missing: 3 }],
    sent: null,
    suppressed: true,
  },
  {
    name: 'another NACK asking fewer symbols does not: ours goes out',
    needs: [need(0, 1, 3)],
    heard: [{ block: 0, firstGroup: 1, groupCount: 1, missing: 2 }],
    sent: [{ block: 0, firstGroup: 1, groupCount: 1, missing: 3 }],
    suppressed: false,
  },
  {
    name: 'another NACK covering part of ours: ours is trimmed to the rest',
    needs: [need(0, 1, 1), need(0, 2, 2), need(1, 5, 1)],
    heard: [
      { block: 0, firstGroup: 1, groupCount: 1, missing: 1 },
      { block: 1, firstGroup: 5, groupCount: 1, missing: 4 },
    ],
    sent: [{ block: 0, firstGroup: 2, groupCount: 1, missing: 2 }],
    suppressed: false,
  },
  {
    name: 'another NACK for other groups: ours goes out whole',
    needs: [need(0, 1, 1)],
    heard: [{ block: 0, firstGroup: 2, groupCount: 20, missing: 30 }],
    sent: [{ block: 0, firstGroup: 1, groupCount: 1, missing: 1 }],
    suppressed: false,
  },
  {
    name: 'another NACK with a huge group range costs only our needs',
    needs: [need(7, 65_000, 2)],
    heard: [{ block: 7, firstGroup: 0, groupCount: 65_535, missing: 2 }],
    sent: null,
    suppressed: true,
  },
];

test('receiver suppression (table): hold, trim or send', () => {
  for (const row of SUPPRESSION) {
    let { state } = receive(newReceiverRepair(), [[{ type: 'needs', changes: row.needs }, 0]]);
    const heard = receive(state, [[nack(row.heard), 5]]);
    state = heard.state;
    assert.equal(heard.effects.some((e) => e.type === 'report' && e.event === 'nack-suppressed'), row.suppressed, row.name);
    if (row.suppressed) {
      assert.deepEqual(
        heard.effects.filter((e) => e.type !== 'report'),
        [{ type: 'schedule', atMs: 5 + O.repairWaitMs }],
        `${row.name}: the back-off becomes a wait for the repair`,
      );
    }
    const fired = receive(state, [[{ type: 'timer' }, HALF]]);
    const sent = fired.effects.find((e) => e.type === 'send-nack');
    assert.deepEqual(sent === undefined ? null : sent.entries, row.sent, row.name);
  }
});

test('receiver: more open runs than a NACK holds go out in consecutive NACKs', () => {
  const changes = Array.from({ length: MAX_NACK_ENTRIES + 10 }, (_, i) => need(i, 0, 1 + (i % 2)));
  let { state } = receive(newReceiverRepair(), [[{ type: 'needs', changes }, 0]]);
  let r = receive(state, [[{ type: 'timer' }, HALF]]);
  const first = r.effects.find((e) => e.type === 'send-nack');
  assert.equal(first?.type === 'send-nack' && first.entries.length, MAX_NACK_ENTRIES);
  assert.deepEqual(r.effects.at(-1), { type: 'schedule', atMs: 2 * HALF }, 'a new back-off for the rest');
  state = r.state;
  r = receive(state, [[{ type: 'timer' }, 2 * HALF]]);
  const second = r.effects.find((e) => e.type === 'send-nack');
  assert.deepEqual(second?.type === 'send-nack' && second.entries.map((e) => e.block), [128, 129, 130, 131, 132, 133, 134, 135, 136, 137]);
});

test('receiver: a small link caps a NACK at the entries that fit it; the rest go in the next NACK', () => {
  const cap = 55;
  const small = { ...R, maxNackEntries: cap };
  const changes = Array.from({ length: cap + 3 }, (_, i) => need(i, 0, 1 + (i % 2)));
  const { state } = receive(newReceiverRepair(), [[{ type: 'needs', changes }, 0]], small);
  const first = receive(state, [[{ type: 'timer' }, HALF]], small);
  const sent = first.effects.find((e) => e.type === 'send-nack');
  assert.equal(sent?.type === 'send-nack' && sent.entries.length, cap);
  const next = receive(first.state, [[{ type: 'timer' }, 2 * HALF]], small).effects.find((e) => e.type === 'send-nack');
  assert.deepEqual(next?.type === 'send-nack' && next.entries.map((e) => e.block), [55, 56, 57]);
});

test('receiver: a stale timer does nothing', () => {
  const { state } = receive(newReceiverRepair(), [[{ type: 'needs', changes: [need(0, 0, 1)] }, 0]]);
  assert.deepEqual(reduceReceiverRepair(state, { type: 'timer' }, HALF - 1, R).effects, []);
  assert.deepEqual(reduceReceiverRepair(newReceiverRepair(), { type: 'timer' }, 5, R).effects, []);
});

interface SenderRow {
  name: string;
  steps: Array<[SenderRepairEvent, number]>;
  effects: SenderRepairEffect[];
}

const e = (block: number, firstGroup: number, groupCount: number, missing: number): NackEntry => ({ block, firstGroup, groupCount, missing });
const FLUSH = O.aggregateMs;

const SENDER: SenderRow[] = [
  {
    name: 'one NACK: after the aggregation window, fresh parity from the proactive count on',
    steps: [
      [{ type: 'nack', entries: [e(0, 2, 1, 3)] }, 0],
      [{ type: 'timer' }, FLUSH],
    ],
    effects: [
      { type: 'schedule', atMs: FLUSH },
      { type: 'send-parity', block: 0, group: 2, firstIndex: 1, count: 3 },
    ],
  },
  {
    name: 'several NACKs in one window: the max per group, not the sum',
    steps: [
      [{ type: 'nack', entries: [e(0, 2, 1, 1)] }, 0],
      [{ type: 'nack', entries: [e(0, 2, 1, 3), e(1, 0, 2, 1)] }, 5],
      [{ type: 'nack', entries: [e(0, 2, 1, 2)] }, 9],
      [{ type: 'timer' }, FLUSH],
    ],
    effects: [
      { type: 'schedule', atMs: FLUSH },
      { type: 'send-parity', block: 0, group: 2, firstIndex: 1, count: 3 },
      { type: 'send-parity', block: 1, group: 0, firstIndex: 1, count: 1 },
      { type: 'send-parity', block: 1, group: 1, firstIndex: 1, count: 1 },
    ],
  },
  {
    name: 'a NACK that crossed the answer (within the hold-off) adds only what it asks beyond it',
    steps: [
      [{ type: 'nack', entries: [e(0, 2, 1, 2)] }, 0],
      [{ type: 'timer' }, FLUSH],
      [{ type: 'nack', entries: [e(0, 2, 1, 2)] }, FLUSH + 30],
      [{ type: 'nack', entries: [e(0, 2, 1, 3)] }, FLUSH + 40],
      [{ type: 'timer' }, 2 * FLUSH + 40],
    ],
    effects: [
      { type: 'schedule', atMs: FLUSH },
      { type: 'send-parity', block: 0, group: 2, firstIndex: 1, count: 2 },
      { type: 'schedule', atMs: 2 * FLUSH + 40 },
      { type: 'send-parity', block: 0, group: 2, firstIndex: 3, count: 1 },
    ],
  },
  {
    name: 'a NACK after the hold-off (the repair was lost too) is answered in full, with fresh indexes',
    steps: [
      [{ type: 'nack', entries: [e(0, 2, 1, 2)] }, 0],
      [{ type: 'timer' }, FLUSH],
      [{ type: 'nack', entries: [e(0, 2, 1, 2)] }, FLUSH + O.holdoffMs],
      [{ type: 'timer' }, 2 * FLUSH + O.holdoffMs],
    ],
    effects: [
      { type: 'schedule', atMs: FLUSH },
      { type: 'send-parity', block: 0, group: 2, firstIndex: 1, count: 2 },
      { type: 'schedule', atMs: 2 * FLUSH + O.holdoffMs },
      { type: 'send-parity', block: 0, group: 2, firstIndex: 3, count: 2 },
    ],
  },
  {
    name: 'the last group of a block (13 symbols): a count past its size is capped',
    steps: [
      [{ type: 'nack', entries: [e(1, 23, 1, 200)] }, 0],
      [{ type: 'timer' }, FLUSH],
    ],
    effects: [
      { type: 'schedule', atMs: FLUSH },
      { type: 'send-parity', block: 1, group: 23, firstIndex: 1, count: 13 },
    ],
  },
  {
    name: 'a NACK for groups outside the content is counted and ignored',
    steps: [[{ type: 'nack', entries: [e(2, 0, 1, 1), e(0, 23, 2, 1)] }, 0]],
    effects: [
      { type: 'report', event: 'nack-invalid', block: 2, group: 0 },
      { type: 'report', event: 'nack-invalid', block: 0, group: 23 },
    ],
  },
  {
    name: 'an early or stale timer does nothing',
    steps: [
      [{ type: 'timer' }, 0],
      [{ type: 'nack', entries: [e(0, 0, 1, 1)] }, 0],
      [{ type: 'timer' }, FLUSH - 1],
    ],
    effects: [{ type: 'schedule', atMs: FLUSH }],
  },
];

test('sender (table): aggregate, take the max, hold off, cap', () => {
  for (const row of SENDER) assert.deepEqual(send(newSenderRepair(), row.steps).effects, row.effects, row.name);
});

test('sender: a group whose 256 - k parity indexes are used up is reported', () => {
  // k = 32 allows parity indexes 0..223; the first pass sent index 0, seven full rounds ask for the rest.
  let { state } = send(newSenderRepair(), [
    [{ type: 'nack', entries: [e(0, 0, 1, 32)] }, 0],
    [{ type: 'timer' }, FLUSH],
  ]);
  for (let round = 1; round < 7; round++) {
    state = send(state, [
      [{ type: 'nack', entries: [e(0, 0, 1, 32)] }, round * 1000],
      [{ type: 'timer' }, round * 1000 + FLUSH],
    ]).state;
  }
  assert.equal(state.nextParity.get(groupKey(0, 0)), 224, 'parity indexes 1..223 used: all that k = 32 allows');
  const { effects } = send(state, [
    [{ type: 'nack', entries: [e(0, 0, 1, 5)] }, 9000],
    [{ type: 'timer' }, 9000 + FLUSH],
  ]);
  assert.deepEqual(effects.slice(1), [{ type: 'report', event: 'parity-exhausted', block: 0, group: 0 }]);
});

// ---------------------------------------------------------------------------------------------
// Receivers and a sender on a simulated LAN: every NACK reaches the sender and (when receivers
// overhear each other, as on a multicast group) every other receiver after a delay.

/** A binary heap of timed actions, earliest first, ties in insertion order. */
class EventQueue {
  private readonly items: Array<{ at: number; seq: number; run: () => void }> = [];
  private seq = 0;

  push(at: number, run: () => void): void {
    const items = this.items;
    items.push({ at, seq: this.seq++, run });
    for (let i = items.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      [items[i], items[parent]] = [items[parent], items[i]];
      i = parent;
    }
  }

  pop(): { at: number; run: () => void } | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < items.length && this.before(l, m)) m = l;
        if (r < items.length && this.before(r, m)) m = r;
        if (m === i) break;
        [items[i], items[m]] = [items[m], items[i]];
        i = m;
      }
    }
    return top;
  }

  private before(a: number, b: number): boolean {
    const x = this.items[a];
    const y = this.items[b];
    return x.at < y.at || (x.at === y.at && x.seq < y.seq);
  }
}

interface RepairSim {
  seed: number;
  receivers: number;
  /** Initial missing count per receiver per group. */
  needs: (receiver: number, group: number, random: () => number) => number;
  groups: number;
  overhear?: boolean;
  /** Probability that a receiver loses a repair symbol. */
  repairLoss?: number;
  delayMs?: number;
  /** Every receiver draws a zero back-off: all NACK in the same instant, so none can suppress another. */
  sameInstant?: boolean;
}

function simulateRepair(sim: RepairSim) {
  const random = seededRandom(sim.seed);
  const k = 32;
  const layout: SessionLayout = { size: sim.groups * k * 100, blockSize: sim.groups * k * 100, symbolSize: 100, groupDataSymbols: k };
  const options = resolveRepairOptions({ receiversEstimate: sim.receivers });
  const receiverContext: ReceiverRepairContext = { options, random: sim.sameInstant ? () => 0 : random, maxNackEntries: MAX_NACK_ENTRIES };
  const senderContext: SenderRepairContext = { options, layout, proactiveParity: 0 };
  const delay = sim.delayMs ?? 1;
  const missing = Array.from({ length: sim.receivers }, (_, r) => Array.from({ length: sim.groups }, (_, g) => sim.needs(r, g, random)));
  const initialMax = Array.from({ length: sim.groups }, (_, g) => Math.max(0, ...missing.map((m) => m[g])));
  const receivers = missing.map(() => ({ state: newReceiverRepair(), timerAt: null as number | null }));
  let sender = { state: newSenderRepair(), timerAt: null as number | null };
  const parityPerGroup = new Array<number>(sim.groups).fill(0);
  let nacks = 0;

  const queue = new EventQueue();
  let now = 0;
  const at = (time: number, run: () => void) => queue.push(time, run);

  const toReceiver = (r: number, event: ReceiverRepairEvent) => {
    const result = reduceReceiverRepair(receivers[r].state, event, now, receiverContext);
    receivers[r].state = result.state;
    for (const effect of result.effects) {
      if (effect.type === 'schedule') {
        const time = effect.atMs;
        receivers[r].timerAt = time;
        at(time, () => receivers[r].timerAt === time && toReceiver(r, { type: 'timer' }));
      } else if (effect.type === 'cancel') {
        receivers[r].timerAt = null;
      } else if (effect.type === 'send-nack') {
        nacks++;
        const entries = effect.entries;
        at(now + delay, () => toSender({ type: 'nack', entries }));
        if (sim.overhear !== false) {
          receivers.forEach((_, other) => other !== r && at(now + delay * (1 + random()), () => toReceiver(other, { type: 'nack-heard', entries })));
        }
      }
    }
  };

  const toSender = (event: SenderRepairEvent) => {
    const result = reduceSenderRepair(sender.state, event, now, senderContext);
    sender = { ...sender, state: result.state };
    for (const effect of result.effects) {
      if (effect.type === 'schedule') {
        const time = effect.atMs;
        sender.timerAt = time;
        at(time, () => sender.timerAt === time && toSender({ type: 'timer' }));
      } else if (effect.type === 'send-parity') {
        const { group, count } = effect;
        parityPerGroup[group] += count;
        at(now + delay, () => {
          receivers.forEach((_, r) => {
            let got = 0;
            for (let i = 0; i < count; i++) if (random() >= (sim.repairLoss ?? 0)) got++;
            const before = missing[r][group];
            if (before === 0 || got === 0) return;
            missing[r][group] = Math.max(0, before - got);
            toReceiver(r, { type: 'needs', changes: [{ block: 0, group, missing: missing[r][group] }] });
          });
        });
      }
    }
  };

  // The first pass ends: every receiver reports its losses at once.
  receivers.forEach((_, r) => {
    const changes = missing[r].map((m, group) => ({ block: 0, group, missing: m })).filter((c) => c.missing > 0);
    if (changes.length > 0) toReceiver(r, { type: 'needs', changes });
  });
  for (let item = queue.pop(); item !== undefined && now < 60_000; item = queue.pop()) {
    now = item.at;
    item.run();
  }
  const unrepaired = missing.flat().reduce((a, b) => a + b, 0);
  return { nacks, parityPerGroup, initialMax, unrepaired, endMs: now };
}

/** Binomial(32, p) draw: symbols of a 32-symbol group lost at loss rate p. */
const lossOf = (p: number) => (_r: number, _g: number, random: () => number) => {
  let lost = 0;
  for (let i = 0; i < 32; i++) if (random() < p) lost++;
  return lost;
};

test('10 receivers each lose a different symbol of a group: the sender sends 1 parity symbol, not 10', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const result = simulateRepair({ seed, receivers: 10, groups: 1, needs: () => 1 });
    assert.deepEqual(result.parityPerGroup, [1], `seed ${seed}`);
    assert.equal(result.unrepaired, 0);
    assert.ok(result.nacks <= 3, `seed ${seed}: ${result.nacks} NACKs`);
  }
  // Suppression defeated (all NACK in the same instant, or nobody hears anybody): all 10 NACKs reach
  // the sender, which still takes the max, not the sum.
  for (const overhear of [true, false]) {
    const defeated = simulateRepair({ seed: 1, receivers: 10, groups: 1, needs: () => 1, overhear, sameInstant: true });
    assert.equal(defeated.nacks, 10);
    assert.deepEqual(defeated.parityPerGroup, [1]);
  }
});

test('repair bytes track the worst receiver per group; feedback stays bounded as receivers grow', () => {
  const nacksBy: Record<number, number> = {};
  for (const receivers of [10, 100, 1000]) {
    const result = simulateRepair({ seed: receivers, receivers, groups: 8, needs: lossOf(0.05) });
    assert.equal(result.unrepaired, 0, `${receivers} receivers: all repaired`);
    assert.deepEqual(result.parityPerGroup, result.initialMax, `${receivers} receivers: parity per group = the worst receiver's loss`);
    nacksBy[receivers] = result.nacks;
  }
  // 100x the receivers, not 100x the NACKs: feedback grows with the spread of loss counts (about
  // log N), not with N. Measured with these seeds: 8, 19 and 37 NACKs for 8 groups.
  assert.ok(nacksBy[1000] <= 60, `NACKs for 1000 receivers: ${nacksBy[1000]}`);
  assert.ok(nacksBy[1000] < 10 * nacksBy[10], JSON.stringify(nacksBy));
  assert.ok(nacksBy[1000] / 1000 < 0.06, 'well under one NACK per ten receivers');
});

test('repairs lost too: rounds repeat until every receiver is whole', () => {
  const result = simulateRepair({ seed: 5, receivers: 50, groups: 6, needs: lossOf(0.05), repairLoss: 0.05 });
  assert.equal(result.unrepaired, 0);
  const sent = result.parityPerGroup.reduce((a, b) => a + b, 0);
  const worst = result.initialMax.reduce((a, b) => a + b, 0);
  assert.ok(sent >= worst && sent <= 2 * worst + 6, `parity ${sent} for a worst-case need of ${worst}`);
  assert.ok(result.endMs < 5_000, `done in ${result.endMs} ms`);
});
