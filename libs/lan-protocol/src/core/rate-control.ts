import { REPORT_LOSS_SCALE } from '../protocol/packets';
import type { SessionLayout } from './block-layout';

/**
 * Congestion control of a multicast session, as two pure reducers `(state, event, now, context)`:
 * the sender's rate controller and each receiver's feedback (what it measures and reports).
 *
 * Receivers (`reduceReceiverFeedback`):
 * - Measure, per report interval, the first pass's DATA symbols lost (gaps in the symbols'
 *   positions in the pass; a jump of more than a block is a resync, not a loss: skipped blocks, a
 *   late join) and the rate of DATA and PARITY packets received, IP headers included.
 * - Multicast a REPORT every interval in which the pass sent them anything. Every receiver reads
 *   the others' REPORTs too, so that all of them class a far slower receiver as the sender does.
 *
 * Far slower receivers (`slowReceivers`, the same rule at the sender and at every receiver):
 * receive rate below `outlierRatio` of the median of the receivers heard in the last
 * `reportMaxAgeMs`, with loss over `lossThreshold`. The sender's rate ignores them. A receiver
 * that finds itself so for `behindRounds` intervals in a row declares itself *behind* for the
 * rest of the session (sticky; its REPORTs carry the flag): it stops sending NACKs, the sender
 * ignores any it sends and no longer waits for its DONE, and the other receivers no longer hold
 * their own NACKs for its. It keeps what the pass brings and, when the session closes, takes the
 * blocks it still lacks from peers, then the origin (the path every incomplete receiver takes).
 * So one slow device neither slows the pass nor fills it with repair parity for losses that
 * repair would only multiply.
 *
 * Sender (`reduceRateControl`), once per `intervalMs`, over the fresh REPORTs of the receivers
 * that are neither slow nor behind:
 * - most of them lost more than `lossThreshold`: the rate drops to `backoff` times the least of
 *   what those receivers took (or of the rate, if less), at least `minKbps`; fewer than half: to
 *   `backoff` times the rate, one step (the others' best rates then tell a far slower receiver
 *   apart before the rate reaches its speed). Then it holds for
 *   `holdIntervals` intervals, so that REPORTs from before the cut are not taken for its result.
 *   Not while the sender is app-limited and fewer than half of them lost: a receiver that loses at
 *   the pace of the sender's own WAN download may still be far slower than the rest at the full
 *   rate, which is when the rule above can tell; followed now, it would set the session's rate;
 * - else, unless the sender did not use the rate (`appLimitedRatio`: it follows its own WAN
 *   download), the rate doubles while probing (from `startKbps`, until the first loss) and grows
 *   by `steadyIncrease` a interval after that;
 * - always within `capKbps` (the profile's LAN rate limit; 0: none, up to UNLIMITED_RATE_KBPS);
 * - no fresh REPORT (nobody receiving, or receivers that predate REPORT): the rate stays.
 * The decrease is multiplicative on what the receivers measured, like TCP Westwood's: a receiver
 * overrun at twice its speed brings the rate to its speed in one step, not in several halvings.
 * Random loss below the threshold (a noisy link, not congestion) is left to FEC repair, so a
 * lossy LAN is not taken for a slow one.
 */

export interface RateControlOptions {
  /** First rate, kbit/s of IP packets. */
  startKbps: number;
  /** Least rate: the controller never goes below it. */
  minKbps: number;
  /** The profile's LAN rate limit, kbit/s; 0 for none. */
  capKbps: number;
  /** Time between two decisions at the sender, and between two REPORTs of a receiver. */
  intervalMs: number;
  /** A REPORT older than this no longer counts. */
  reportMaxAgeMs: number;
  /** Loss fraction above which a receiver is taken to be overrun. */
  lossThreshold: number;
  /** After loss: this fraction of the least rate the overrun receivers took. */
  backoff: number;
  /** Growth a interval once probing is over. */
  steadyIncrease: number;
  /** A receiver whose rate is below this fraction of the median is far slower than the rest. */
  outlierRatio: number;
  /** The rate grows only while the sender sent at least this fraction of it. */
  appLimitedRatio: number;
  /** Intervals after a decrease during which the rate neither falls nor grows. */
  holdIntervals: number;
  /** Intervals in a row a receiver finds itself far slower before it declares itself behind. */
  behindRounds: number;
  /** How long a receiver's best receive rate stands for what it can take (see `slowReceivers`). */
  peakWindowMs: number;
}

/** No cap: the highest rate the controller goes to (10 Gbit/s, the fastest LAN a device has). */
export const UNLIMITED_RATE_KBPS = 10_000_000;

/**
 * Defaults, resolved once (`resolveRateControlOptions`).
 * - Start 100 Mbit/s: Fast Ethernet's line rate and what a busy Wi-Fi client still takes; a gigabit
 *   LAN is reached by doubling in 4 intervals (0.4 s, about 25 MB at those rates).
 * - Least 1 Mbit/s: below it the session would outlast any deadline; such a LAN is for peers.
 * - Interval 100 ms: 1,000 packets at 100 Mbit/s, enough for a loss fraction to mean something;
 *   24 receivers then send 240 REPORTs of 65 bytes a second, nothing next to the data.
 * - Report age 300 ms: three intervals; a receiver whose REPORTs stop (done, left) is forgotten.
 * - Loss threshold 10 %: above the random loss FEC repair is built for (the benchmarks' 5 %),
 *   below what an overrun receiver loses (a receiver sent 1.2x its speed loses 17 %).
 * - Backoff 0.85: leaves the overrun receiver's queues room to drain.
 * - Steady increase 1/8: back from a 0.85 cut in two intervals, so the sender probes the line rate
 *   again within a quarter second and stays near it.
 * - Outlier ratio 0.5: a receiver at less than half the median would halve the whole subnet.
 * - App-limited 0.5: the rate must have been used to mean anything about the receivers.
 * - Hold 2 intervals: a receiver works up to 100-200 ms behind its socket's backlog (see
 *   DEFAULT_REPAIR_OPTIONS.holdoffMs), so its next REPORTs still show the old rate.
 * - Behind after 3 intervals: one slow interval is a CPU stall, three (0.3 s) are a slow device.
 * - Peak window 2 s: longer than a CPU stall of a busy device (so a fast receiver's dip does not
 *   make it look far slower) and than the controller's way back from a cut (a few intervals), so
 *   a rate pinned for a while at a slow receiver's speed still knows what the others took before.
 */
export const DEFAULT_RATE_CONTROL_OPTIONS: RateControlOptions = {
  startKbps: 100_000,
  minKbps: 1_000,
  capKbps: 0,
  intervalMs: 100,
  reportMaxAgeMs: 300,
  lossThreshold: 0.1,
  backoff: 0.85,
  steadyIncrease: 0.125,
  outlierRatio: 0.5,
  appLimitedRatio: 0.5,
  holdIntervals: 2,
  behindRounds: 3,
  peakWindowMs: 2_000,
};

export function resolveRateControlOptions(partial: Partial<RateControlOptions> = {}): RateControlOptions {
  const options = { ...DEFAULT_RATE_CONTROL_OPTIONS, ...partial };
  for (const [name, value] of Object.entries(options)) {
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`rate control option ${name} must be a non-negative number, got ${value}`);
  }
  if (options.intervalMs <= 0 || options.minKbps <= 0 || options.startKbps <= 0) throw new RangeError('intervalMs, minKbps and startKbps must be positive');
  for (const name of ['lossThreshold', 'backoff', 'outlierRatio', 'appLimitedRatio'] as const) {
    if (options[name] > 1) throw new RangeError(`rate control option ${name} is a fraction, got ${options[name]}`);
  }
  return options;
}

/** The highest rate the controller may set: the cap, or UNLIMITED_RATE_KBPS; never below the least rate. */
export function rateCeilingKbps(options: RateControlOptions): number {
  return Math.max(options.minKbps, options.capKbps > 0 ? options.capKbps : UNLIMITED_RATE_KBPS);
}

/** What a receiver measured over an interval. */
export interface ReceptionFigures {
  /** 0..1 */
  lossFraction: number;
  receiveKbps: number;
  /** The best receive rate of the last `peakWindowMs`: what it has shown it can take. Absent: `receiveKbps`. */
  peakKbps?: number;
}

/** A receiver's REPORT as the sender or another receiver keeps it. */
export interface HeardReport extends ReceptionFigures {
  behind: boolean;
  atMs: number;
  peakKbps: number;
  peakAtMs: number;
}

/** A REPORT as kept: its figures, and the receiver's best rate of the peak window carried over from the one before. */
export function heardReport(previous: HeardReport | undefined, figures: ReceptionFigures & { behind: boolean }, now: number, options: Pick<RateControlOptions, 'peakWindowMs'>): HeardReport {
  const receiveKbps = Math.max(0, figures.receiveKbps);
  const keep = previous !== undefined && now - previous.peakAtMs <= options.peakWindowMs && previous.peakKbps > receiveKbps;
  return {
    lossFraction: clampFraction(figures.lossFraction),
    receiveKbps,
    behind: figures.behind,
    atMs: now,
    peakKbps: keep ? previous.peakKbps : receiveKbps,
    peakAtMs: keep ? previous.peakAtMs : now,
  };
}

/**
 * Receivers far slower than the rest: best receive rate of the peak window below `outlierRatio` x
 * the median of all of theirs (the upper median: with two receivers, the faster one's), and loss
 * over `lossThreshold` now (a low rate without loss is a receiver that heard only part of the
 * interval). Best rates, not the last interval's: after the rate was cut to a slow receiver's speed
 * every receiver takes the same, and only what the others took before tells it apart; and a fast
 * receiver whose CPU stalls for an interval keeps its standing. One receiver alone is never slow.
 */
export function slowReceivers(figures: ReadonlyMap<string, ReceptionFigures>, options: Pick<RateControlOptions, 'outlierRatio' | 'lossThreshold'>): Set<string> {
  const slow = new Set<string>();
  if (figures.size < 2) return slow;
  const best = (f: ReceptionFigures) => Math.max(f.peakKbps ?? 0, f.receiveKbps);
  const rates = [...figures.values()].map(best).sort((a, b) => a - b);
  const median = rates[Math.floor(rates.length / 2)];
  for (const [id, f] of figures) if (best(f) < options.outlierRatio * median && f.lossFraction > options.lossThreshold) slow.add(id);
  return slow;
}

// ------------------------------------------------------------------------------------------------
// Sender

export interface RateControlState {
  rateKbps: number;
  /** Probing doubles the rate until the first loss; steady grows it by `steadyIncrease`. */
  mode: 'probing' | 'steady';
  /** Latest REPORT of each receiver. */
  reports: Map<string, HeardReport>;
  /** Receivers that declared themselves behind: sticky for the session. */
  behind: Set<string>;
  /** Receivers the last decision ignored as far slower than the rest. */
  slow: Set<string>;
  nextDecisionMs: number;
  /** No decrease or increase before this (see `holdIntervals`). */
  holdUntilMs: number;
  /** REPORTs before this describe the rate before the last decrease. */
  lastDecreaseMs: number;
  /** The sender's byte count and time at the last decision: what it actually sent since. */
  lastBytesSent: number;
  lastDecisionMs: number;
  stats: RateControlStats;
}

export interface RateControlStats {
  reportsHeard: number;
  decreases: number;
  increases: number;
  /** Decisions that kept the rate because the sender had not used it. */
  appLimited: number;
  lowestKbps: number;
  highestKbps: number;
}

export type RateControlEvent =
  | ({ type: 'report'; receiverId: string; behind: boolean } & ReceptionFigures)
  /** `bytesSent`: the sender's running count of IP bytes sent (SenderSessionStats.bytesSent). */
  | { type: 'tick'; bytesSent: number };

export type RateControlEffect =
  /** Pace at this rate from now on. */
  | { type: 'set-rate'; kbps: number }
  /** This receiver declared itself behind: stop waiting for its DONE, ignore its NACKs. */
  | { type: 'receiver-behind'; receiverId: string };

export function newRateControl(options: RateControlOptions, now: number): RateControlState {
  const rateKbps = Math.min(Math.max(options.startKbps, options.minKbps), rateCeilingKbps(options));
  return {
    rateKbps,
    mode: 'probing',
    reports: new Map(),
    behind: new Set(),
    slow: new Set(),
    nextDecisionMs: now + options.intervalMs,
    holdUntilMs: now,
    lastDecreaseMs: -Infinity,
    lastBytesSent: 0,
    lastDecisionMs: now,
    stats: { reportsHeard: 0, decreases: 0, increases: 0, appLimited: 0, lowestKbps: rateKbps, highestKbps: rateKbps },
  };
}

/** Whether the sender should act on this receiver's NACKs (neither behind nor far slower than the rest). */
export function answersReceiver(state: RateControlState, receiverId: string): boolean {
  return !state.behind.has(receiverId) && !state.slow.has(receiverId);
}

export function reduceRateControl(
  state: RateControlState,
  event: RateControlEvent,
  now: number,
  options: RateControlOptions,
): { state: RateControlState; effects: RateControlEffect[] } {
  const effects: RateControlEffect[] = [];
  if (event.type === 'report') {
    state.stats.reportsHeard++;
    state.reports.set(event.receiverId, heardReport(state.reports.get(event.receiverId), event, now, options));
    if (event.behind && !state.behind.has(event.receiverId)) {
      state.behind.add(event.receiverId);
      effects.push({ type: 'receiver-behind', receiverId: event.receiverId });
    }
    return { state, effects };
  }
  if (now < state.nextDecisionMs) return { state, effects };
  const elapsed = Math.max(now - state.lastDecisionMs, 1);
  // bytes * 8 / ms = kbit/s.
  const sentKbps = ((event.bytesSent - state.lastBytesSent) * 8) / elapsed;
  state.lastBytesSent = event.bytesSent;
  state.lastDecisionMs = now;
  state.nextDecisionMs = now + options.intervalMs;

  const fresh = new Map<string, HeardReport>();
  for (const [id, report] of state.reports) {
    if (now - report.atMs > options.reportMaxAgeMs) state.reports.delete(id);
    else if (!state.behind.has(id)) fresh.set(id, report);
  }
  state.slow = slowReceivers(fresh, options);
  const considered = [...fresh].filter(([id]) => !state.slow.has(id)).map(([, report]) => report);
  if (considered.length === 0 || now < state.holdUntilMs) return { state, effects };

  const before = state.rateKbps;
  const appLimited = sentKbps < options.appLimitedRatio * state.rateKbps;
  const overrun = considered.filter((r) => r.lossFraction > options.lossThreshold && r.atMs > state.lastDecreaseMs + options.intervalMs);
  // Fewer than half overrun: the median receiver takes what is sent.
  const minority = 2 * overrun.length < considered.length;
  if (overrun.length > 0 && minority && appLimited) {
    // The sender sends less than its rate (it follows its own WAN download): a few receivers that
    // lose at that pace say nothing yet of whether they are far slower than the rest, which only
    // the full rate shows. Following them now would pin the subnet to their speed for the session.
    state.stats.appLimited++;
  } else if (overrun.length > 0) {
    // Most receivers overrun: the rate is above what the group takes, down to it in one step. A
    // minority: one `backoff` step only, so that the others show what they take (their best rates)
    // before a receiver that may be far slower than them could pull the subnet down to its speed.
    const took = minority ? state.rateKbps : Math.min(...overrun.map((r) => r.receiveKbps));
    state.rateKbps = Math.max(options.minKbps, Math.min(state.rateKbps, took) * options.backoff);
    state.mode = 'steady';
    state.lastDecreaseMs = now;
    state.holdUntilMs = now + options.holdIntervals * options.intervalMs;
    state.stats.decreases++;
  } else if (considered.some((r) => r.lossFraction > options.lossThreshold)) {
    // Loss reported from before the last decrease: wait for REPORTs of the new rate.
  } else if (appLimited) {
    state.stats.appLimited++;
  } else {
    state.rateKbps *= state.mode === 'probing' ? 2 : 1 + options.steadyIncrease;
  }
  state.rateKbps = Math.round(Math.min(state.rateKbps, rateCeilingKbps(options)));
  // Growth the cap left out is not counted.
  if (state.rateKbps > before) state.stats.increases++;
  if (state.rateKbps !== before) {
    state.stats.lowestKbps = Math.min(state.stats.lowestKbps, state.rateKbps);
    state.stats.highestKbps = Math.max(state.stats.highestKbps, state.rateKbps);
    effects.push({ type: 'set-rate', kbps: state.rateKbps });
  }
  return { state, effects };
}

function clampFraction(value: number): number {
  return Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0;
}

// ------------------------------------------------------------------------------------------------
// Receiver

export interface ReceiverFeedbackContext {
  layout: SessionLayout;
  /** This receiver's sender ID: its own figures sit among the others' under it. */
  selfId: string;
  options: RateControlOptions;
}

export interface ReceiverFeedbackState {
  /** Position in the first pass of the last DATA symbol heard (see `passPosition`); null before the first. */
  position: number | null;
  /** DATA symbols the pass sent in this interval, by the positions heard, and of those how many arrived. */
  expected: number;
  received: number;
  /** IP bytes of DATA and PARITY received in this interval. */
  bytes: number;
  intervalStartMs: number;
  /** Other receivers' latest REPORTs. */
  heard: Map<string, HeardReport>;
  /** Intervals in a row this receiver was far slower than the rest. */
  slowRounds: number;
  /** Declared behind: sticky for the session. */
  behind: boolean;
  /** This receiver's own figures, kept as the others' are (its best rate of the peak window). */
  self: HeardReport | undefined;
  /** Other receivers taken to be far slower or behind: their NACKs do not hold ours. */
  ignored: Set<string>;
  stats: { reportsSent: number; symbolsLost: number; symbolsExpected: number };
}

export type ReceiverFeedbackEvent =
  /** A DATA or PARITY packet of the session's sender; `packetBytes`: its IP size. */
  | { type: 'symbol'; kind: 'data' | 'parity'; block: number; group: number; index: number; packetBytes: number }
  | ({ type: 'report-heard'; receiverId: string; behind: boolean } & ReceptionFigures)
  | { type: 'tick' };

export type ReceiverFeedbackEffect =
  | { type: 'send-report'; intervalMs: number; lossPermyriad: number; receiveKbps: number; behind: boolean }
  /** Once: this receiver is far slower than the rest; stop NACKing, take the rest from peers after the pass. */
  | { type: 'behind' };

export function newReceiverFeedback(now: number): ReceiverFeedbackState {
  return {
    position: null,
    expected: 0,
    received: 0,
    bytes: 0,
    intervalStartMs: now,
    heard: new Map(),
    slowRounds: 0,
    behind: false,
    self: undefined,
    ignored: new Set(),
    stats: { reportsSent: 0, symbolsLost: 0, symbolsExpected: 0 },
  };
}

/** A DATA symbol's place in the first pass: blocks in order, symbols of a block in order (groups are k consecutive symbols). */
export function passPosition(layout: SessionLayout, block: number, group: number, index: number): number {
  return block * Math.ceil(layout.blockSize / layout.symbolSize) + group * layout.groupDataSymbols + index;
}

/** Whether this receiver should hold its NACKs for this other receiver's (see `ignored`). */
export function suppressesFor(state: ReceiverFeedbackState, receiverId: string): boolean {
  return !state.ignored.has(receiverId);
}

export function reduceReceiverFeedback(
  state: ReceiverFeedbackState,
  event: ReceiverFeedbackEvent,
  now: number,
  context: ReceiverFeedbackContext,
): { state: ReceiverFeedbackState; effects: ReceiverFeedbackEffect[] } {
  const { layout, options } = context;
  switch (event.type) {
    case 'symbol':
      noteSymbol(state, layout, event.kind, event.block, event.group, event.index, event.packetBytes);
      return { state, effects: [] };
    case 'report-heard':
      state.heard.set(event.receiverId, heardReport(state.heard.get(event.receiverId), event, now, options));
      if (event.behind) state.ignored.add(event.receiverId);
      return { state, effects: [] };
    case 'tick':
      return tickFeedback(state, now, context.selfId, options);
  }
}

/**
 * The `symbol` event without the event object: the receive path calls it for every DATA and
 * PARITY packet, where an allocation per packet shows in the profile.
 */
export function noteSymbol(state: ReceiverFeedbackState, layout: SessionLayout, kind: 'data' | 'parity', block: number, group: number, index: number, packetBytes: number): void {
  state.bytes += packetBytes;
  if (kind !== 'data') return;
  const position = passPosition(layout, block, group, index);
  const last = state.position;
  if (last === null || position - last > Math.ceil(layout.blockSize / layout.symbolSize)) {
    // The first symbol heard, or a jump past a whole block (blocks the sender skipped, a pass
    // resumed by a successor): where counting starts, not a loss.
    state.position = position;
    state.expected++;
    state.received++;
  } else if (position > last) {
    state.expected += position - last;
    state.received++;
    state.position = position;
  } else {
    // Reordered, or behind the pass: it arrived, and was counted lost when the gap opened.
    state.received++;
  }
}

function tickFeedback(state: ReceiverFeedbackState, now: number, self: string, options: RateControlOptions): { state: ReceiverFeedbackState; effects: ReceiverFeedbackEffect[] } {
  const effects: ReceiverFeedbackEffect[] = [];
  const intervalMs = Math.round(now - state.intervalStartMs);
  if (intervalMs < 1) return { state, effects };
  const { expected, received } = state;
  const lossFraction = expected > 0 ? Math.max(0, expected - received) / expected : 0;
  const receiveKbps = Math.round((state.bytes * 8) / intervalMs);
  state.stats.symbolsExpected += expected;
  state.stats.symbolsLost += Math.max(0, expected - received);
  state.expected = 0;
  state.received = 0;
  state.bytes = 0;
  state.intervalStartMs = now;
  // Nothing of the pass in the interval (the sender repairs, waits for its WAN, or is done): nothing to say.
  if (expected === 0) return { state, effects };

  const figures = new Map<string, ReceptionFigures>();
  for (const [id, report] of state.heard) {
    if (now - report.atMs > options.reportMaxAgeMs) state.heard.delete(id);
    else if (!report.behind && id !== self) figures.set(id, report);
  }
  state.self = heardReport(state.self, { lossFraction, receiveKbps, behind: state.behind }, now, options);
  figures.set(self, state.self);
  const slow = slowReceivers(figures, options);
  state.ignored = new Set([...slow].filter((id) => id !== self));
  for (const [id, report] of state.heard) if (report.behind) state.ignored.add(id);
  if (!state.behind) {
    state.slowRounds = slow.has(self) ? state.slowRounds + 1 : 0;
    if (state.slowRounds >= options.behindRounds) {
      state.behind = true;
      effects.push({ type: 'behind' });
    }
  }
  effects.push({ type: 'send-report', intervalMs: Math.min(intervalMs, 0xffff), lossPermyriad: Math.round(lossFraction * REPORT_LOSS_SCALE), receiveKbps, behind: state.behind });
  state.stats.reportsSent++;
  return { state, effects };
}
