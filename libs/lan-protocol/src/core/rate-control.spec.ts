import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SessionLayout } from './block-layout';
import {
  DEFAULT_RATE_CONTROL_OPTIONS,
  RateControlEffect,
  RateControlEvent,
  RateControlOptions,
  RateControlState,
  ReceiverFeedbackEffect,
  ReceiverFeedbackEvent,
  ReceiverFeedbackState,
  UNLIMITED_RATE_KBPS,
  answersReceiver,
  newRateControl,
  newReceiverFeedback,
  passPosition,
  reduceRateControl,
  reduceReceiverFeedback,
  resolveRateControlOptions,
  slowReceivers,
  suppressesFor,
} from './rate-control';

const O = DEFAULT_RATE_CONTROL_OPTIONS;
const A = '00000000000000aa';
const B = '00000000000000bb';
const C = '00000000000000cc';
const S = '00000000000000ff';

const report = (receiverId: string, lossFraction: number, receiveKbps: number, behind = false): RateControlEvent => ({ type: 'report', receiverId, lossFraction, receiveKbps, behind });
/** A tick at which the sender sent `kbps` since the last decision (100 ms ago). */
const tick = (state: RateControlState, kbps: number): RateControlEvent => ({ type: 'tick', bytesSent: state.lastBytesSent + (kbps * O.intervalMs) / 8 });

function run(state: RateControlState, steps: Array<[RateControlEvent | ((s: RateControlState) => RateControlEvent), number]>, options: RateControlOptions = O) {
  const effects: RateControlEffect[] = [];
  for (const [event, now] of steps) {
    const result = reduceRateControl(state, typeof event === 'function' ? event(state) : event, now, options);
    state = result.state;
    effects.push(...result.effects);
  }
  return { state, effects };
}

test('options: defaults resolve; fractions above 1 and non-positive intervals are refused', () => {
  assert.deepEqual(resolveRateControlOptions(), O);
  assert.throws(() => resolveRateControlOptions({ lossThreshold: 1.5 }), RangeError);
  assert.throws(() => resolveRateControlOptions({ intervalMs: 0 }), RangeError);
  assert.throws(() => resolveRateControlOptions({ backoff: -1 }), RangeError);
});

test('slowReceivers: below half the upper median and lossy; one receiver alone is never slow', () => {
  const cases: Array<{ name: string; figures: Array<[string, number, number, number?]>; slow: string[] }> = [
    { name: 'alone, however slow', figures: [[A, 0.8, 20_000]], slow: [] },
    { name: 'two: the slow one against the fast one', figures: [[A, 0, 400_000], [B, 0.8, 20_000]], slow: [B] },
    { name: 'slow but without loss: heard part of the interval', figures: [[A, 0, 400_000], [B, 0, 20_000], [C, 0, 400_000]], slow: [] },
    { name: 'lossy but not far slower: it sets the rate', figures: [[A, 0, 400_000], [B, 0.3, 280_000], [C, 0, 400_000]], slow: [] },
    { name: 'one of three far slower', figures: [[A, 0, 400_000], [B, 0.9, 40_000], [C, 0.01, 396_000]], slow: [B] },
    { name: 'half the subnet slow: the median is slow too, nobody is an outlier', figures: [[A, 0.8, 20_000], [B, 0.8, 20_000], [C, 0, 400_000]], slow: [] },
    { name: 'the rate cut to the slow one: the others took 10x before', figures: [[A, 0, 20_000, 200_000], [B, 0.3, 20_000, 20_000], [C, 0, 20_000, 190_000]], slow: [B] },
    { name: 'a fast receiver in a CPU stall keeps its standing', figures: [[A, 0.6, 40_000, 200_000], [B, 0, 200_000, 200_000], [C, 0, 200_000, 200_000]], slow: [] },
  ];
  for (const { name, figures, slow } of cases) {
    const map = new Map(figures.map(([id, lossFraction, receiveKbps, peakKbps]) => [id, { lossFraction, receiveKbps, peakKbps }]));
    assert.deepEqual([...slowReceivers(map, O)].sort(), slow, name);
  }
});

test('sender: the table of decisions, one interval each', () => {
  // [name, reports heard in the interval, kbit/s the sender used, rate before, mode before, rate after, mode after]
  const cases: Array<{ name: string; reports: RateControlEvent[]; sent: number; rate: number; mode: 'probing' | 'steady'; after: number; afterMode: 'probing' | 'steady'; options?: Partial<RateControlOptions> }> = [
    { name: 'no report: the rate stays', reports: [], sent: 100_000, rate: 100_000, mode: 'probing', after: 100_000, afterMode: 'probing' },
    { name: 'probing, clean: doubles', reports: [report(A, 0, 99_000), report(B, 0.01, 98_000)], sent: 100_000, rate: 100_000, mode: 'probing', after: 200_000, afterMode: 'probing' },
    { name: 'steady, clean: grows by an eighth', reports: [report(A, 0, 99_000)], sent: 100_000, rate: 100_000, mode: 'steady', after: 112_500, afterMode: 'steady' },
    { name: 'random loss under the threshold: still grows', reports: [report(A, 0.05, 95_000)], sent: 100_000, rate: 100_000, mode: 'steady', after: 112_500, afterMode: 'steady' },
    { name: 'app-limited (following the WAN): no growth', reports: [report(A, 0, 20_000)], sent: 20_000, rate: 100_000, mode: 'probing', after: 100_000, afterMode: 'probing' },
    { name: 'overrun, most receivers: down to 0.85 of what they took, probing over', reports: [report(A, 0.4, 240_000), report(B, 0.2, 320_000), report(C, 0, 400_000)], sent: 400_000, rate: 400_000, mode: 'probing', after: 204_000, afterMode: 'steady' },
    { name: 'overrun, a minority not (yet) far slower: one 0.85 step', reports: [report(A, 0.4, 240_000), report(B, 0, 400_000), report(C, 0, 400_000)], sent: 400_000, rate: 400_000, mode: 'probing', after: 340_000, afterMode: 'steady' },
    { name: 'overrun, took more than the rate (a backlog): 0.85 of the rate', reports: [report(A, 0.2, 500_000)], sent: 400_000, rate: 400_000, mode: 'steady', after: 340_000, afterMode: 'steady' },
    { name: 'app-limited, one of three overrun: not followed yet', reports: [report(A, 0, 30_000), report(B, 0.33, 20_000), report(C, 0, 30_000)], sent: 30_000, rate: 100_000, mode: 'probing', after: 100_000, afterMode: 'probing' },
    { name: 'app-limited, most overrun: cut', reports: [report(A, 0.3, 20_000), report(B, 0.33, 20_000), report(C, 0, 30_000)], sent: 30_000, rate: 100_000, mode: 'probing', after: 17_000, afterMode: 'steady' },
    { name: 'never below the least rate', reports: [report(A, 0.9, 100)], sent: 2_000, rate: 2_000, mode: 'steady', after: 1_000, afterMode: 'steady' },
    { name: 'the cap holds growth', reports: [report(A, 0, 50_000)], sent: 50_000, rate: 50_000, mode: 'probing', after: 80_000, afterMode: 'probing', options: { capKbps: 80_000 } },
    { name: 'unlimited: up to 10 Gbit/s', reports: [report(A, 0, 8_000_000)], sent: 8_000_000, rate: 8_000_000, mode: 'probing', after: UNLIMITED_RATE_KBPS, afterMode: 'probing' },
    { name: 'far slower receiver ignored: the rest set the rate', reports: [report(A, 0, 400_000), report(B, 0.95, 20_000), report(C, 0, 399_000)], sent: 400_000, rate: 400_000, mode: 'probing', after: 800_000, afterMode: 'probing' },
    { name: 'a receiver behind is ignored', reports: [report(A, 0, 100_000), report(B, 0.8, 20_000, true)], sent: 100_000, rate: 100_000, mode: 'steady', after: 112_500, afterMode: 'steady' },
    { name: 'only receivers behind: the rate stays', reports: [report(B, 0.8, 20_000, true)], sent: 100_000, rate: 100_000, mode: 'steady', after: 100_000, afterMode: 'steady' },
  ];
  for (const c of cases) {
    const options = resolveRateControlOptions({ ...c.options });
    let state = newRateControl(options, 0);
    state.rateKbps = c.rate;
    state.mode = c.mode;
    const steps: Array<[RateControlEvent | ((s: RateControlState) => RateControlEvent), number]> = c.reports.map((r) => [r, 50]);
    steps.push([(s) => tick(s, c.sent), 100]);
    const { state: after, effects } = run(state, steps, options);
    assert.equal(after.rateKbps, c.after, c.name);
    assert.equal(after.mode, c.afterMode, c.name);
    const setRate = effects.filter((e) => e.type === 'set-rate');
    assert.deepEqual(setRate, c.after === c.rate ? [] : [{ type: 'set-rate', kbps: c.after }], `${c.name}: set-rate only on a change`);
    state = after;
  }
});

test('sender: a decision waits for the interval; a decrease holds two intervals and skips REPORTs of the old rate', () => {
  let { state, effects } = run(newRateControl(O, 0), [[report(A, 0, 100_000), 10], [(s) => tick(s, 100_000), 50]]);
  assert.equal(state.rateKbps, O.startKbps, 'no decision before the interval');
  assert.deepEqual(effects, []);
  ({ state } = run(state, [[(s) => tick(s, 100_000), 100]]));
  assert.equal(state.rateKbps, 200_000);
  ({ state } = run(state, [[report(A, 0.5, 100_000), 150], [(s) => tick(s, 200_000), 200]]));
  assert.equal(state.rateKbps, 85_000, 'cut to 0.85 x what the receiver took');
  // Still lossy REPORTs during the hold: no second cut; after it, REPORTs from before the cut + one interval are not acted on.
  ({ state } = run(state, [[report(A, 0.5, 80_000), 250], [(s) => tick(s, 85_000), 300], [(s) => tick(s, 85_000), 400]]));
  assert.equal(state.rateKbps, 85_000, 'held');
  ({ state } = run(state, [[report(A, 0.3, 70_000), 450], [(s) => tick(s, 85_000), 500]]));
  assert.equal(state.rateKbps, 59_500, 'a REPORT of the new rate that still shows loss cuts again');
  assert.equal(state.stats.decreases, 2);
});

test('sender: REPORTs age out; a behind receiver is announced once and its NACKs are not answered', () => {
  let { state, effects } = run(newRateControl(O, 0), [
    [report(A, 0, 400_000), 10],
    [report(B, 0.9, 20_000), 20],
    [report(C, 0, 400_000), 30],
    [(s) => tick(s, 100_000), 100],
  ]);
  assert.equal(answersReceiver(state, B), false, 'far slower: its NACKs are not answered');
  assert.equal(answersReceiver(state, A), true);
  ({ state, effects } = run(state, [[report(B, 0.9, 20_000, true), 150], [report(B, 0.9, 20_000, true), 250]]));
  assert.deepEqual(effects, [{ type: 'receiver-behind', receiverId: B }], 'once');
  ({ state } = run(state, [[(s) => tick(s, 200_000), 700]]));
  assert.equal(state.reports.size, 0, 'every REPORT is older than 300 ms');
  assert.equal(answersReceiver(state, B), false, 'behind is for the session');
});

test('sender on a simulated LAN: probes to the slowest fast receiver and stays near it; a 20 Mbit/s receiver does not hold it', () => {
  // Receivers take at most `capacity` kbit/s; above it they lose the excess. Decisions every 100 ms over 5 s.
  // `appLimitUntil`: the sender follows its WAN download at 30 Mbit/s until then.
  const simulate = (capacities: Record<string, number>, appLimitUntil = 0) => {
    let state = newRateControl(O, 0);
    const rates: number[] = [];
    for (let now = 100; now <= 5_000; now += 100) {
      const rate = now <= appLimitUntil ? Math.min(30_000, state.rateKbps) : state.rateKbps;
      for (const [id, capacity] of Object.entries(capacities)) {
        const took = Math.min(rate, capacity);
        ({ state } = run(state, [[report(id, 1 - took / rate, took), now - 1]]));
      }
      ({ state } = run(state, [[(s) => tick(s, rate), now]]));
      rates.push(state.rateKbps);
    }
    return { state, rates };
  };
  const fast = simulate({ [A]: 600_000, [B]: 650_000, [C]: 700_000 });
  const tail = fast.rates.slice(-20);
  assert.ok(Math.min(...tail) >= 0.8 * 600_000 * O.backoff, `stays near 600 Mbit/s: ${tail.join(', ')}`);
  assert.ok(fast.rates.slice(0, 5).includes(800_000), 'reached the line rate within half a second');
  const mixed = simulate({ [A]: 600_000, [B]: 650_000, [C]: 700_000, [S]: 20_000 });
  const mixedTail = mixed.rates.slice(-20);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  assert.ok(mean(mixedTail) >= 0.9 * mean(tail), `with a 20 Mbit/s receiver: ${mean(mixedTail)} against ${mean(tail)}`);
  const wanFirst = simulate({ [A]: 600_000, [B]: 650_000, [C]: 700_000, [S]: 20_000 }, 1_500);
  assert.ok(mean(wanFirst.rates.slice(-20)) >= 0.9 * mean(tail), `sending behind the WAN for 1.5 s first: ${wanFirst.rates.slice(-20).join(', ')}`);
  const alone = simulate({ [S]: 20_000 });
  assert.ok(alone.rates.slice(-10).every((r) => r <= 25_000 && r >= 10_000), `alone, the slow receiver sets the rate: ${alone.rates.slice(-10).join(', ')}`);
});

// ------------------------------------------------------------------------------------------------
// Receiver

/** 1 MiB blocks of 1400-byte symbols (749 a block), k = 128. */
const LAYOUT: SessionLayout = { size: 8 * 1024 * 1024, blockSize: 1024 * 1024, symbolSize: 1400, groupDataSymbols: 128 };
const CONTEXT = { layout: LAYOUT, selfId: A, options: O };
const data = (block: number, group: number, index: number, packetBytes = 1459): ReceiverFeedbackEvent => ({ type: 'symbol', kind: 'data', block, group, index, packetBytes });

function feed(state: ReceiverFeedbackState, steps: Array<[ReceiverFeedbackEvent, number]>) {
  const effects: ReceiverFeedbackEffect[] = [];
  for (const [event, now] of steps) {
    const result = reduceReceiverFeedback(state, event, now, CONTEXT);
    state = result.state;
    effects.push(...result.effects);
  }
  return { state, effects };
}

test('receiver: pass positions run across groups and blocks', () => {
  assert.equal(passPosition(LAYOUT, 0, 0, 0), 0);
  assert.equal(passPosition(LAYOUT, 0, 1, 0), 128);
  assert.equal(passPosition(LAYOUT, 0, 5, 108), 748);
  assert.equal(passPosition(LAYOUT, 1, 0, 0), 749);
});

test('receiver: the table of intervals, what each REPORT says', () => {
  const cases: Array<{ name: string; symbols: ReceiverFeedbackEvent[]; report: Omit<Extract<ReceiverFeedbackEffect, { type: 'send-report' }>, 'type' | 'intervalMs' | 'behind'> | null }> = [
    { name: 'nothing heard: no REPORT', symbols: [], report: null },
    { name: 'every symbol', symbols: [data(0, 0, 0), data(0, 0, 1), data(0, 0, 2), data(0, 0, 3)], report: { lossPermyriad: 0, receiveKbps: 467 } },
    { name: 'one of four lost', symbols: [data(0, 0, 0), data(0, 0, 1), data(0, 0, 3)], report: { lossPermyriad: 2500, receiveKbps: 350 } },
    { name: 'across a group and a block boundary', symbols: [data(0, 5, 107), data(0, 5, 108), data(1, 0, 1)], report: { lossPermyriad: 2500, receiveKbps: 350 } },
    { name: 'a jump past a block is a resync, not a loss', symbols: [data(0, 0, 0), data(3, 0, 0), data(3, 0, 1)], report: { lossPermyriad: 0, receiveKbps: 350 } },
    { name: 'parity counts for the rate only', symbols: [data(0, 0, 0), { type: 'symbol', kind: 'parity', block: 0, group: 0, index: 0, packetBytes: 1459 }], report: { lossPermyriad: 0, receiveKbps: 233 } },
    { name: 'parity alone (a repair): no REPORT', symbols: [{ type: 'symbol', kind: 'parity', block: 0, group: 0, index: 0, packetBytes: 1459 }], report: null },
  ];
  for (const c of cases) {
    const { effects } = feed(newReceiverFeedback(0), [...c.symbols.map((s): [ReceiverFeedbackEvent, number] => [s, 10]), [{ type: 'tick' }, 100]]);
    const expected = c.report === null ? [] : [{ type: 'send-report', intervalMs: 100, behind: false, ...c.report }];
    assert.deepEqual(effects, expected, c.name);
  }
});

test('receiver: far slower than the others for three intervals: behind, once and for good; their NACKs then no longer hold ours', () => {
  let state = newReceiverFeedback(0);
  let effects: ReceiverFeedbackEffect[] = [];
  const interval = (t: number, lost: boolean, others: Array<[string, number, number]>) => {
    const steps: Array<[ReceiverFeedbackEvent, number]> = others.map(([id, loss, kbps]) => [{ type: 'report-heard', receiverId: id, lossFraction: loss, receiveKbps: kbps, behind: false }, t + 1]);
    // 10 symbols of the pass; a slow interval hears every fifth.
    for (let i = 0; i < 10; i++) if (!lost || i % 5 === 0) steps.push([data(0, 0, (t / 100) * 10 + i), t + 2]);
    steps.push([{ type: 'tick' }, t + 100]);
    return feed(state, steps);
  };
  // The others take what the pass sends: 10 symbols of 1459 bytes in 100 ms, 1,167 kbit/s.
  const fastOthers: Array<[string, number, number]> = [[B, 0, 1_200], [C, 0, 1_200]];
  ({ state, effects } = interval(0, true, fastOthers));
  ({ state, effects } = interval(100, true, fastOthers));
  assert.equal(state.behind, false, 'two slow intervals');
  ({ state, effects } = interval(200, true, fastOthers));
  assert.deepEqual(effects.map((e) => e.type), ['behind', 'send-report']);
  assert.equal((effects[1] as Extract<ReceiverFeedbackEffect, { type: 'send-report' }>).behind, true);
  ({ state, effects } = interval(300, false, fastOthers));
  assert.deepEqual(effects.map((e) => e.type), ['send-report'], 'behind is said once, and stays');
  assert.equal(state.behind, true);

  // A receiver that took the full rate within the peak window is not far slower in a dip (a CPU stall).
  state = newReceiverFeedback(0);
  ({ state } = interval(0, false, fastOthers));
  for (const t of [100, 200, 300, 400]) ({ state } = interval(t, true, fastOthers));
  assert.equal(state.behind, false, 'a dip after a full-rate interval');
  for (let t = 500; t <= 2_400; t += 100) ({ state } = interval(t, true, fastOthers));
  assert.equal(state.behind, true, 'once the full-rate interval is older than the peak window, three slow ones make it behind');

  // A fast receiver's view: B far slower, C behind.
  let fast = newReceiverFeedback(0);
  ({ state: fast } = feed(fast, [
    [{ type: 'report-heard', receiverId: B, lossFraction: 0.8, receiveKbps: 200, behind: false }, 10],
    [{ type: 'report-heard', receiverId: C, lossFraction: 0.8, receiveKbps: 2_000, behind: true }, 20],
    [{ type: 'report-heard', receiverId: S, lossFraction: 0, receiveKbps: 1_200, behind: false }, 30],
    ...Array.from({ length: 10 }, (_, i): [ReceiverFeedbackEvent, number] => [data(0, 0, i, 1459), 40]),
    [{ type: 'tick' }, 100],
  ]));
  assert.equal(suppressesFor(fast, B), false, 'far slower');
  assert.equal(suppressesFor(fast, C), false, 'behind');
  assert.equal(suppressesFor(fast, S), true);
  assert.equal(fast.behind, false);
});
