import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  JOIN_GRACE_KEEP_ALIVES,
  LanSessionContext,
  LanSessionEffect,
  LanSessionEvent,
  LanSessionState,
  TAKEOVER_GATHER_KEEP_ALIVES,
  newLanSession,
  reduceLanSession,
  roleWaitMs,
} from './lan-session';
import { FOLLOW_STALL_MS, HELD_BLOCKS_FLOOR_BYTES_PER_SECOND } from './session-deadline';

const B = '00000000000000bb';
const C = '00000000000000cc';
const MiB = 1024 * 1024;

/** Four 1 MiB blocks; two other targets (B, C); the election's default timing; a 30 s start delay. */
const CTX: LanSessionContext = {
  blocks: 4,
  blockSize: MiB,
  targets: [B, C],
  subnetKnown: true,
  startDelayMs: 30_000,
  rateKbps: 0,
  stallMs: FOLLOW_STALL_MS,
  peerDownloadAllowed: true,
  servesPeers: true,
  keepAliveIntervalMs: 1_000,
  missedKeepAlives: 4,
  noRepresentativeTimeoutMs: 15_000,
};
const ROLE_WAIT = 4 * 1_000 + 15_000;

type Step = [LanSessionEvent, number];

/** Runs events through the reducer from a state; returns the last state and every effect but logs. */
function run(steps: Step[], context = CTX, from: LanSessionState = newLanSession(context.blocks)): { state: LanSessionState; effects: LanSessionEffect[] } {
  let state = from;
  const effects: LanSessionEffect[] = [];
  for (const [event, now] of steps) {
    const result = reduceLanSession(state, event, now, context);
    state = result.state;
    effects.push(...result.effects.filter((e) => e.type !== 'log'));
  }
  return { state, effects };
}

/** One more event from `state`: its effects but logs. */
function step(state: LanSessionState, event: LanSessionEvent, now: number, context = CTX): { state: LanSessionState; effects: LanSessionEffect[] } {
  return run([[event, now]], context, state);
}

const start = (held: number[] = []): Step => [{ type: 'start', held }, 0];
const asRepresentative = (now = 100): Step => [{ type: 'role-changed', role: { role: 'representative' } }, now];
const asFollowerOf = (id: string, now = 100): Step => [{ type: 'role-changed', role: { role: 'follower', representativeId: id } }, now];

test('roleWaitMs: missed keep-alives plus the no-representative timeout', () => {
  assert.equal(roleWaitMs(CTX), ROLE_WAIT);
});

test('start: the election starts and the first role is due within the role wait', () => {
  const { state, effects } = run([start([1, 1, 3, 9])]);
  assert.equal(state.phase, 'electing');
  assert.deepEqual(state.held, [0, 1, 0, 1], 'duplicates and indexes outside the content are not held');
  assert.equal(state.heldCount, 2);
  assert.deepEqual(effects, [{ type: 'start-election' }, { type: 'schedule', timer: 'first-role-due', atMs: ROLE_WAIT }]);
});

test('no role within the role wait: the election stops, LAN.SESSION_DEADLINE, the origin alone; the run reports a fallback', () => {
  let r = run([start()]);
  r = step(r.state, { type: 'first-role-due' }, ROLE_WAIT - 1);
  assert.deepEqual(r.effects, [], 'an early timer changes nothing');
  r = step(r.state, { type: 'first-role-due' }, ROLE_WAIT);
  assert.deepEqual(r.effects, [
    { type: 'stop-election' },
    { type: 'report-issue', issue: { kind: 'no-role', waitedMs: ROLE_WAIT } },
    { type: 'fetch', round: 1, sources: ['origin'] },
  ]);
  r = step(r.state, { type: 'role-changed', role: { role: 'representative' } }, ROLE_WAIT + 1);
  assert.deepEqual(r.effects, [], 'a role that settles later changes nothing: the device fetches by itself');
  r = step(r.state, { type: 'fetch-ended', round: 1, outcome: 'complete', alreadyCached: false }, ROLE_WAIT + 5_000);
  assert.deepEqual(r.effects, [{ type: 'finish', role: { role: 'fallback', reason: 'no-representative' } }]);
  assert.equal(r.state.phase, 'done');
});

test('weight 0 and nobody announced: LAN.NO_REPRESENTATIVE, the origin alone, no PEER_HAVE', () => {
  const r = run([start(), [{ type: 'role-changed', role: { role: 'fallback', reason: 'no-representative' } }, 15_000]]);
  assert.deepEqual(r.effects.slice(2), [
    { type: 'cancel', timer: 'first-role-due' },
    { type: 'stop-election' },
    { type: 'report-issue', issue: { kind: 'no-representative', reason: 'no-representative' } },
    { type: 'fetch', round: 1, sources: ['origin'] },
  ]);
  const done = step(r.state, { type: 'fetch-ended', round: 1, outcome: 'complete', alreadyCached: false }, 20_000);
  assert.deepEqual(done.effects, [{ type: 'finish', role: { role: 'fallback', reason: 'no-representative' } }]);
});

test('representative: the sender first; the start delay, the grace and the fetch once it announces', () => {
  let r = run([start([2]), asRepresentative(100)]);
  assert.deepEqual(r.effects.slice(2), [{ type: 'cancel', timer: 'first-role-due' }, { type: 'start-sender', round: 1, ready: [2] }]);
  assert.equal(r.state.activity, 'representative');
  r = step(r.state, { type: 'sender-started', round: 1 }, 200);
  assert.deepEqual(r.effects, [
    { type: 'schedule', timer: 'grace-over', atMs: 200 + JOIN_GRACE_KEEP_ALIVES * 1_000 },
    { type: 'schedule', timer: 'start-due', atMs: 200 + 30_000 },
    // Nobody heard yet (no JOIN, no DISCOVER): the peers the control plane names are asked too.
    { type: 'fetch', round: 1, sources: ['session-peers', 'origin'] },
  ]);
});

test('representative: blocks stored go to the sender; every target joined starts the multicast early; the session closes with the sender', () => {
  let r = run([start(), asRepresentative(), [{ type: 'election-heard', othersHeard: 2, mostBlocksHeldByOthers: 0 }, 150], [{ type: 'sender-started', round: 1 }, 200]]);
  assert.deepEqual(r.effects.at(-1), { type: 'fetch', round: 1, sources: ['peers', 'origin'] }, 'devices heard: only those that announced hold anything');
  r = step(r.state, { type: 'block-ready', index: 0 }, 300);
  assert.deepEqual(r.effects, [{ type: 'election-blocks', count: 1 }, { type: 'sender-block-ready', index: 0 }]);
  r = step(r.state, { type: 'member-joined', from: B, blocksHeld: 0 }, 400);
  assert.deepEqual(r.effects, [], 'one of two targets joined: the start delay still runs');
  r = step(r.state, { type: 'member-joined', from: B, blocksHeld: 0 }, 450);
  assert.deepEqual(r.effects, [], 'a repeated JOIN is the same device');
  r = step(r.state, { type: 'member-joined', from: C, blocksHeld: 0 }, 500);
  assert.deepEqual(r.effects, [{ type: 'cancel', timer: 'start-due' }, { type: 'start-multicast', skip: [], why: 'every target device of the subnet joined', takeover: false, targets: 2 }]);
  r = step(r.state, { type: 'start-due' }, 30_200);
  assert.deepEqual(r.effects, [], 'the start delay timer of a started session changes nothing');
  r = step(r.state, { type: 'fetch-ended', round: 1, outcome: 'complete', alreadyCached: false }, 9_000);
  assert.deepEqual(r.effects, [{ type: 'sender-all-ready' }, { type: 'send-holdings', blocks: [0, 1, 2, 3] }]);
  assert.equal(r.state.phase, 'representing', 'it waits for the multicast to close');
  r = step(r.state, { type: 'sender-closed', round: 1 }, 12_000);
  assert.deepEqual(r.effects, [{ type: 'cancel', timer: 'grace-over' }, { type: 'stop-sender' }, { type: 'stop-election' }, { type: 'finish', role: { role: 'representative' } }]);
  assert.equal(r.state.phase, 'done');
});

test('representative: the start delay ends with nobody joined; the first JOIN after it starts the multicast', () => {
  const three: LanSessionContext = { ...CTX, targets: [B, C, '00000000000000dd'] };
  const at = (event: LanSessionEvent, now: number) => step(r.state, event, now, three);
  let r = run([start(), asRepresentative(), [{ type: 'sender-started', round: 1 }, 200], [{ type: 'start-due' }, 30_199]], three);
  assert.equal(r.effects.filter((e) => e.type === 'start-multicast').length, 0);
  r = at({ type: 'start-due' }, 30_200);
  assert.deepEqual(r.effects, [{ type: 'cancel', timer: 'start-due' }], 'nobody to send to: no multicast yet');
  r = at({ type: 'member-joined', from: C, blocksHeld: 4 }, 31_000);
  assert.deepEqual(r.effects, [], 'a device that holds every block needs no multicast');
  r = at({ type: 'member-joined', from: B, holdings: { peerUrl: 'http://10.0.0.2:7000', blocks: [0] } }, 32_000);
  assert.deepEqual(r.effects, [{ type: 'start-multicast', skip: [], why: 'a device joined after the session start delay', takeover: false, targets: 3 }]);
  assert.deepEqual(r.state.peers, { [B]: 'http://10.0.0.2:7000' });
});

test('representative holding the content: nobody joins: after the delay and the grace it closes without a multicast, LAN.NOBODY_JOINED', () => {
  let r = run([start([0, 1, 2, 3]), asRepresentative(), [{ type: 'sender-started', round: 1 }, 200], [{ type: 'fetch-ended', round: 1, outcome: 'complete', alreadyCached: true }, 250]]);
  assert.equal(r.state.phase, 'representing');
  r = step(r.state, { type: 'grace-over' }, 3_200);
  assert.deepEqual(r.effects, [], 'the start delay still runs');
  r = step(r.state, { type: 'start-due' }, 30_200);
  assert.deepEqual(r.effects, [
    { type: 'cancel', timer: 'start-due' },
    { type: 'report-issue', issue: { kind: 'nobody-joined', targets: 2, fetchedAlone: false } },
    { type: 'stop-sender' },
    { type: 'stop-election' },
    { type: 'finish', role: { role: 'representative' } },
  ]);
});

test('the only target of a known subnet: no start delay, no grace, no multicast, no issue', () => {
  const alone: LanSessionContext = { ...CTX, targets: [] };
  let r = run([start([0, 1, 2, 3]), asRepresentative(), [{ type: 'sender-started', round: 1 }, 200]], alone);
  assert.deepEqual(r.effects.slice(-3), [
    { type: 'schedule', timer: 'grace-over', atMs: 200 },
    { type: 'schedule', timer: 'start-due', atMs: 200 },
    { type: 'fetch', round: 1, sources: ['session-peers', 'origin'] },
  ]);
  r = run([[{ type: 'grace-over' }, 200], [{ type: 'start-due' }, 200], [{ type: 'fetch-ended', round: 1, outcome: 'complete', alreadyCached: true }, 210]], alone, r.state);
  assert.deepEqual(r.effects, [{ type: 'cancel', timer: 'start-due' }, { type: 'sender-all-ready' }, { type: 'send-holdings', blocks: [0, 1, 2, 3] }, { type: 'stop-sender' }, { type: 'stop-election' }, { type: 'finish', role: { role: 'representative' } }]);
});

test('representative: a device that lost by weight but holds more is waited for (its JOIN, or the grace) before the fetch', () => {
  let r = run([start([0]), [{ type: 'election-heard', othersHeard: 1, mostBlocksHeldByOthers: 4 }, 50], asRepresentative(), [{ type: 'sender-started', round: 1 }, 200]]);
  assert.equal(r.effects.filter((e) => e.type === 'fetch').length, 0, 'no fetch yet');
  r = step(r.state, { type: 'grace-over' }, 3_199);
  assert.deepEqual(r.effects, [], 'an early timer changes nothing');
  r = step(r.state, { type: 'grace-over' }, 3_200);
  assert.deepEqual(r.effects, [{ type: 'fetch', round: 1, sources: ['peers', 'origin'] }]);
});

test('takeover: the successor gathers three keep-alives, waits for the gather, skips what every device holds and asks peers before the origin', () => {
  let r = run([start([0, 1, 2]), asFollowerOf(B), [{ type: 'member-joined', from: C, blocksHeld: 0 }, 150], [{ type: 'representative-lost', representativeId: B }, 4_000], asRepresentative(7_000)]);
  assert.deepEqual(r.effects.slice(-1), [{ type: 'abort-round', round: 1 }], 'the follower round ends first');
  r = step(r.state, { type: 'follow-ended', round: 1, outcome: 'aborted' }, 7_010);
  assert.deepEqual(r.effects.slice(-1), [{ type: 'start-sender', round: 2, ready: [0, 1, 2] }]);
  assert.deepEqual(r.state.joined, [], 'only JOINs after the takeover count');
  r = step(r.state, { type: 'sender-started', round: 2 }, 7_100);
  assert.deepEqual(r.effects, [
    { type: 'schedule', timer: 'grace-over', atMs: 7_100 + JOIN_GRACE_KEEP_ALIVES * 1_000 },
    { type: 'schedule', timer: 'start-due', atMs: 7_100 + TAKEOVER_GATHER_KEEP_ALIVES * 1_000 },
  ]);
  r = step(r.state, { type: 'member-joined', from: C, holdings: { peerUrl: 'http://10.0.0.3:7000', blocks: [0, 1] } }, 7_500);
  assert.deepEqual(r.effects, [
    { type: 'cancel', timer: 'start-due' },
    // B is lost: C is every target left. Blocks 0 and 1 are on C already.
    { type: 'start-multicast', skip: [0, 1], why: 'every target device of the subnet joined', takeover: true, targets: 1 },
    { type: 'fetch', round: 2, sources: ['peers', 'origin'] },
  ]);
});

test('step down while fetching: the fetch is aborted and the round ends only when it has; then the device follows the winner', () => {
  let r = run([start(), asRepresentative(), [{ type: 'sender-started', round: 1 }, 200]]);
  r = step(r.state, { type: 'role-changed', role: { role: 'follower', representativeId: C } }, 1_000);
  assert.deepEqual(r.effects, [{ type: 'abort-round', round: 1 }]);
  r = step(r.state, { type: 'block-ready', index: 3 }, 1_001);
  assert.deepEqual(r.effects, [{ type: 'election-blocks', count: 1 }], 'the aborted round tells its sender nothing more');
  r = step(r.state, { type: 'fetch-ended', round: 1, outcome: 'aborted', error: 'aborted' }, 1_010);
  const deadline = 1_010 + 30_000 + FOLLOW_STALL_MS + (1 * MiB * 1000) / HELD_BLOCKS_FLOOR_BYTES_PER_SECOND;
  assert.deepEqual(r.effects, [
    { type: 'cancel', timer: 'start-due' },
    { type: 'cancel', timer: 'grace-over' },
    { type: 'stop-sender' },
    { type: 'schedule', timer: 'deadline-passed', atMs: deadline },
    { type: 'send-holdings', blocks: [3] },
    { type: 'send-join', blocksHeld: 1 },
    { type: 'follow', round: 2, representativeId: C },
  ]);
  assert.equal(r.state.activity, 'receiver');
});

test('follower: PEER_HAVE before JOIN; each verified block moves the deadline; past it LAN.SESSION_DEADLINE and the rest from peers, then the origin', () => {
  let r = run([start(), asFollowerOf(B, 100)]);
  assert.deepEqual(r.effects.slice(3), [
    { type: 'schedule', timer: 'deadline-passed', atMs: 100 + 30_000 + FOLLOW_STALL_MS },
    { type: 'send-join', blocksHeld: 0 },
    { type: 'follow', round: 1, representativeId: B },
  ]);
  r = step(r.state, { type: 'block-ready', index: 0 }, 40_000);
  assert.deepEqual(r.effects, [{ type: 'election-blocks', count: 1 }, { type: 'schedule', timer: 'deadline-passed', atMs: 40_000 + FOLLOW_STALL_MS }]);
  r = step(r.state, { type: 'deadline-passed' }, 100 + 30_000 + FOLLOW_STALL_MS);
  assert.deepEqual(r.effects, [], 'the deadline moved with the block: an old timer changes nothing');
  r = step(r.state, { type: 'deadline-passed' }, 100_000);
  assert.deepEqual(r.effects, [{ type: 'abort-round', round: 1 }]);
  r = step(r.state, { type: 'follow-ended', round: 1, outcome: 'aborted' }, 100_010);
  assert.deepEqual(r.effects, [
    { type: 'cancel', timer: 'deadline-passed' },
    { type: 'report-issue', issue: { kind: 'follow-deadline', representativeId: B, blocks: 1, waitedMs: 60_010, peersAllowed: true } },
    { type: 'stop-election' },
    { type: 'fetch', round: 2, sources: ['session-peers', 'origin'] },
  ]);
  r = run([[{ type: 'block-ready', index: 1 }, 100_100], [{ type: 'block-ready', index: 2 }, 100_200]], CTX, r.state);
  assert.equal(r.state.repairs, 2, 'blocks after the session count as repairs');
  r = step(r.state, { type: 'fetch-ended', round: 2, outcome: 'complete', alreadyCached: false }, 100_300);
  assert.deepEqual(r.effects, [{ type: 'send-holdings', blocks: [0, 1, 2, 3] }, { type: 'finish', role: { role: 'follower', representativeId: B } }]);
});

test('follower: a gathering ANNOUNCE of its representative repeats the JOIN; another device\'s, or one of a started session, does not', () => {
  const r = run([start([1]), asFollowerOf(B)]);
  assert.deepEqual(step(r.state, { type: 'announce-heard', from: B, gathering: true }, 1_000).effects, [{ type: 'send-join', blocksHeld: 1 }]);
  assert.deepEqual(step(r.state, { type: 'announce-heard', from: C, gathering: true }, 1_000).effects, []);
  assert.deepEqual(step(r.state, { type: 'announce-heard', from: B, gathering: false }, 1_000).effects, []);
});

test('follower: the session closed short without peers allowed: LAN.SESSION_INCOMPLETE and the origin alone', () => {
  const noPeers: LanSessionContext = { ...CTX, peerDownloadAllowed: false, servesPeers: false };
  const r = run([start([0]), asFollowerOf(B), [{ type: 'follow-ended', round: 1, outcome: 'closed' }, 9_000]], noPeers);
  assert.deepEqual(r.effects.slice(-4), [
    { type: 'cancel', timer: 'deadline-passed' },
    { type: 'stop-election' },
    { type: 'report-issue', issue: { kind: 'session-incomplete', missing: 3, peersAllowed: false } },
    { type: 'fetch', round: 2, sources: ['origin'] },
  ]);
});

test('follower: the representative fell silent: it waits the role wait for a successor, follows one that comes, else repairs', () => {
  let r = run([start(), asFollowerOf(B), [{ type: 'follow-ended', round: 1, outcome: 'silent' }, 6_000]]);
  assert.deepEqual(r.effects.slice(-2), [{ type: 'cancel', timer: 'deadline-passed' }, { type: 'schedule', timer: 'role-wait-over', atMs: 6_000 + ROLE_WAIT }]);
  assert.deepEqual(r.state.lost, [B]);
  const successor = step(r.state, { type: 'role-changed', role: { role: 'follower', representativeId: C } }, 8_000);
  assert.deepEqual(successor.effects.slice(0, 1), [{ type: 'cancel', timer: 'role-wait-over' }]);
  assert.deepEqual(successor.effects.at(-1), { type: 'follow', round: 2, representativeId: C });
  r = step(r.state, { type: 'role-wait-over' }, 6_000 + ROLE_WAIT);
  assert.deepEqual(r.effects, [
    { type: 'stop-election' },
    { type: 'report-issue', issue: { kind: 'session-incomplete', missing: 4, peersAllowed: true } },
    { type: 'fetch', round: 2, sources: ['session-peers', 'origin'] },
  ]);
});

test('follower: a silent representative after the election already moved on: the current role at once', () => {
  let r = run([start(), asFollowerOf(B)]);
  r = step(r.state, { type: 'role-changed', role: { role: 'follower', representativeId: B } }, 5_000);
  assert.deepEqual(r.effects, [], 'the same role again changes nothing');
  r = step(r.state, { type: 'follow-ended', round: 1, outcome: 'silent' }, 6_000);
  assert.deepEqual(r.effects.at(-1), { type: 'follow', round: 2, representativeId: B });
});

test('events of an ended round are ignored', () => {
  const r = run([start(), asFollowerOf(B)]);
  for (const event of [
    { type: 'follow-ended', round: 7, outcome: 'closed' },
    { type: 'fetch-ended', round: 1, outcome: 'complete', alreadyCached: false },
    { type: 'sender-closed', round: 1 },
  ] as LanSessionEvent[]) {
    assert.deepEqual(step(r.state, event, 1_000).effects, [], event.type);
  }
});

test('a failed fetch of the representative fails the run with its error; a cancelled task fails with an abort', () => {
  const error = new Error('origin down');
  let r = run([start(), asRepresentative(), [{ type: 'sender-started', round: 1 }, 200]]);
  const failed = step(r.state, { type: 'fetch-ended', round: 1, outcome: 'failed', error }, 300);
  assert.deepEqual(failed.effects.at(-1), { type: 'fail', error });
  r = step(r.state, { type: 'aborted' }, 300);
  assert.deepEqual(r.effects, [
    { type: 'abort-round', round: 1 },
    { type: 'stop-sender' },
    { type: 'cancel', timer: 'start-due' },
    { type: 'cancel', timer: 'grace-over' },
    { type: 'stop-election' },
    { type: 'fail', error: 'aborted' },
  ]);
});

test('the sender cannot be made: the origin alone', () => {
  const r = run([start(), asRepresentative(), [{ type: 'sender-failed', round: 1, message: 'layout' }, 150]]);
  assert.deepEqual(r.effects.at(-1), { type: 'fetch', round: 2, sources: ['origin'] });
  assert.equal(r.state.phase, 'origin-only');
});

/**
 * Every event in every phase (and in each stage of the representative's round): the phase it leads
 * to and its effects (type, timer, sources, issue; logs left out). Each row was read against the
 * rules at the top of lan-session.ts; an empty effect list means the event is ignored there.
 */
const STATES: Record<string, Step[]> = {
  idle: [],
  electing: [start()],
  'rep-starting': [start(), asRepresentative()],
  'rep-awaiting': [start(), [{ type: 'election-heard', othersHeard: 1, mostBlocksHeldByOthers: 4 }, 50], asRepresentative(), [{ type: 'sender-started', round: 1 }, 200]],
  'rep-fetching': [start(), asRepresentative(), [{ type: 'sender-started', round: 1 }, 200]],
  'rep-closing': [start(), asRepresentative(), [{ type: 'sender-started', round: 1 }, 200], [{ type: 'fetch-ended', round: 1, outcome: 'complete', alreadyCached: false }, 300]],
  'rep-multicasting': [
    start(),
    asRepresentative(),
    [{ type: 'sender-started', round: 1 }, 200],
    [{ type: 'member-joined', from: B, blocksHeld: 0 }, 250],
    [{ type: 'member-joined', from: C, blocksHeld: 0 }, 260],
    [{ type: 'fetch-ended', round: 1, outcome: 'complete', alreadyCached: false }, 300],
  ],
  following: [start(), asFollowerOf(B)],
  'awaiting-role': [start(), asFollowerOf(B), [{ type: 'follow-ended', round: 1, outcome: 'silent' }, 5_000]],
  repairing: [start(), asFollowerOf(B), [{ type: 'follow-ended', round: 1, outcome: 'closed' }, 5_000]],
  'origin-only': [start(), [{ type: 'first-role-due' }, ROLE_WAIT]],
  done: [start(), asFollowerOf(B), [{ type: 'follow-ended', round: 1, outcome: 'complete', alreadyCached: false }, 5_000]],
  failed: [start(), [{ type: 'aborted' }, 50]],
};

const EVENTS: Record<string, LanSessionEvent> = {
  start: { type: 'start', held: [0] },
  'role rep': { type: 'role-changed', role: { role: 'representative' } },
  'role follow C': { type: 'role-changed', role: { role: 'follower', representativeId: C } },
  'role fallback': { type: 'role-changed', role: { role: 'fallback', reason: 'no-representative' } },
  'role stopped': { type: 'role-changed', role: { role: 'fallback', reason: 'stopped' } },
  'rep-lost': { type: 'representative-lost', representativeId: B },
  heard: { type: 'election-heard', othersHeard: 2, mostBlocksHeldByOthers: 1 },
  joined: { type: 'member-joined', from: B, blocksHeld: 0 },
  'announce B gathering': { type: 'announce-heard', from: B, gathering: true },
  block: { type: 'block-ready', index: 2 },
  'first-role-due': { type: 'first-role-due' },
  'start-due': { type: 'start-due' },
  'grace-over': { type: 'grace-over' },
  'role-wait-over': { type: 'role-wait-over' },
  deadline: { type: 'deadline-passed' },
  'sender-started': { type: 'sender-started', round: 1 },
  'sender-failed': { type: 'sender-failed', round: 1, message: 'x' },
  'sender-closed': { type: 'sender-closed', round: 1 },
  'fetch complete r1': { type: 'fetch-ended', round: 1, outcome: 'complete', alreadyCached: false },
  'fetch complete r2': { type: 'fetch-ended', round: 2, outcome: 'complete', alreadyCached: false },
  'fetch failed r1': { type: 'fetch-ended', round: 1, outcome: 'failed', error: 'e' },
  'follow complete r1': { type: 'follow-ended', round: 1, outcome: 'complete', alreadyCached: false },
  'follow closed r1': { type: 'follow-ended', round: 1, outcome: 'closed' },
  aborted: { type: 'aborted' },
};

/** Every event type of LanSessionEvent: the matrix must use each. */
const EVENT_TYPES: Array<LanSessionEvent['type']> = [
  'start',
  'role-changed',
  'representative-lost',
  'election-heard',
  'member-joined',
  'announce-heard',
  'block-ready',
  'first-role-due',
  'start-due',
  'grace-over',
  'role-wait-over',
  'deadline-passed',
  'sender-started',
  'sender-failed',
  'sender-closed',
  'fetch-ended',
  'follow-ended',
  'aborted',
];

/** At this time every timer of the states above is due. */
const LATE = 10_000_000;

const MATRIX: Record<string, Record<string, string>> = {
  'idle': {
    'start': 'electing | start-election, schedule:first-role-due',
    'role rep': 'idle',
    'role follow C': 'idle',
    'role fallback': 'idle',
    'role stopped': 'idle',
    'rep-lost': 'idle',
    'heard': 'idle',
    'joined': 'idle',
    'announce B gathering': 'idle',
    'block': 'idle',
    'first-role-due': 'idle',
    'start-due': 'idle',
    'grace-over': 'idle',
    'role-wait-over': 'idle',
    'deadline': 'idle',
    'sender-started': 'idle',
    'sender-failed': 'idle',
    'sender-closed': 'idle',
    'fetch complete r1': 'idle',
    'fetch complete r2': 'idle',
    'fetch failed r1': 'idle',
    'follow complete r1': 'idle',
    'follow closed r1': 'idle',
    'aborted': 'idle',
  },
  'electing': {
    'start': 'electing',
    'role rep': 'representing | cancel:first-role-due, start-sender',
    'role follow C': 'following | cancel:first-role-due, schedule:deadline-passed, send-join, follow',
    'role fallback': 'origin-only | cancel:first-role-due, stop-election, report-issue:no-representative, fetch:origin',
    'role stopped': 'electing',
    'rep-lost': 'electing',
    'heard': 'electing',
    'joined': 'electing',
    'announce B gathering': 'electing',
    'block': 'electing | election-blocks',
    'first-role-due': 'origin-only | stop-election, report-issue:no-role, fetch:origin',
    'start-due': 'electing',
    'grace-over': 'electing',
    'role-wait-over': 'electing',
    'deadline': 'electing',
    'sender-started': 'electing',
    'sender-failed': 'electing',
    'sender-closed': 'electing',
    'fetch complete r1': 'electing',
    'fetch complete r2': 'electing',
    'fetch failed r1': 'electing',
    'follow complete r1': 'electing',
    'follow closed r1': 'electing',
    'aborted': 'failed | cancel:first-role-due, stop-election, fail',
  },
  'rep-starting': {
    'start': 'representing',
    'role rep': 'representing',
    'role follow C': 'following | abort-round, cancel:grace-over, stop-sender, schedule:deadline-passed, send-join, follow',
    'role fallback': 'repairing | abort-round, cancel:grace-over, stop-sender, stop-election, report-issue:session-incomplete, fetch:session-peers+origin',
    'role stopped': 'representing',
    'rep-lost': 'representing',
    'heard': 'representing',
    'joined': 'representing',
    'announce B gathering': 'representing',
    'block': 'representing | election-blocks, sender-block-ready',
    'first-role-due': 'representing',
    'start-due': 'representing',
    'grace-over': 'representing',
    'role-wait-over': 'representing',
    'deadline': 'representing',
    'sender-started': 'representing | schedule:grace-over, schedule:start-due, fetch:session-peers+origin',
    'sender-failed': 'origin-only | fetch:origin',
    'sender-closed': 'representing',
    'fetch complete r1': 'representing',
    'fetch complete r2': 'representing',
    'fetch failed r1': 'representing',
    'follow complete r1': 'representing',
    'follow closed r1': 'representing',
    'aborted': 'failed | abort-round, stop-sender, cancel:grace-over, stop-election, fail',
  },
  'rep-awaiting': {
    'start': 'representing',
    'role rep': 'representing',
    'role follow C': 'following | abort-round, cancel:start-due, cancel:grace-over, stop-sender, schedule:deadline-passed, send-join, follow',
    'role fallback': 'repairing | abort-round, cancel:start-due, cancel:grace-over, stop-sender, stop-election, report-issue:session-incomplete, fetch:session-peers+origin',
    'role stopped': 'representing',
    'rep-lost': 'representing',
    'heard': 'representing',
    'joined': 'representing',
    'announce B gathering': 'representing',
    'block': 'representing | election-blocks, sender-block-ready',
    'first-role-due': 'representing',
    'start-due': 'representing | cancel:start-due, fetch:peers+origin',
    'grace-over': 'representing | fetch:peers+origin',
    'role-wait-over': 'representing',
    'deadline': 'representing',
    'sender-started': 'representing',
    'sender-failed': 'representing',
    'sender-closed': 'representing',
    'fetch complete r1': 'representing',
    'fetch complete r2': 'representing',
    'fetch failed r1': 'representing',
    'follow complete r1': 'representing',
    'follow closed r1': 'representing',
    'aborted': 'failed | abort-round, stop-sender, cancel:start-due, cancel:grace-over, stop-election, fail',
  },
  'rep-fetching': {
    'start': 'representing',
    'role rep': 'representing',
    'role follow C': 'representing | abort-round',
    'role fallback': 'representing | abort-round',
    'role stopped': 'representing',
    'rep-lost': 'representing',
    'heard': 'representing',
    'joined': 'representing',
    'announce B gathering': 'representing',
    'block': 'representing | election-blocks, sender-block-ready',
    'first-role-due': 'representing',
    'start-due': 'representing | cancel:start-due',
    'grace-over': 'representing',
    'role-wait-over': 'representing',
    'deadline': 'representing',
    'sender-started': 'representing',
    'sender-failed': 'representing',
    'sender-closed': 'representing',
    'fetch complete r1': 'representing | sender-all-ready, send-holdings',
    'fetch complete r2': 'representing',
    'fetch failed r1': 'failed | cancel:start-due, cancel:grace-over, stop-sender, stop-election, fail',
    'follow complete r1': 'representing',
    'follow closed r1': 'representing',
    'aborted': 'failed | abort-round, stop-sender, cancel:start-due, cancel:grace-over, stop-election, fail',
  },
  'rep-closing': {
    'start': 'representing',
    'role rep': 'representing',
    'role follow C': 'following | abort-round, cancel:start-due, cancel:grace-over, stop-sender, schedule:deadline-passed, send-join, follow',
    'role fallback': 'repairing | abort-round, cancel:start-due, cancel:grace-over, stop-sender, stop-election, report-issue:session-incomplete, fetch:session-peers+origin',
    'role stopped': 'representing',
    'rep-lost': 'representing',
    'heard': 'representing',
    'joined': 'representing',
    'announce B gathering': 'representing',
    'block': 'representing | election-blocks, sender-block-ready',
    'first-role-due': 'representing',
    'start-due': 'representing | cancel:start-due',
    'grace-over': 'representing',
    'role-wait-over': 'representing',
    'deadline': 'representing',
    'sender-started': 'representing',
    'sender-failed': 'representing',
    'sender-closed': 'representing',
    'fetch complete r1': 'representing',
    'fetch complete r2': 'representing',
    'fetch failed r1': 'representing',
    'follow complete r1': 'representing',
    'follow closed r1': 'representing',
    'aborted': 'failed | abort-round, stop-sender, cancel:start-due, cancel:grace-over, stop-election, fail',
  },
  'rep-multicasting': {
    'start': 'representing',
    'role rep': 'representing',
    'role follow C': 'following | abort-round, cancel:grace-over, stop-sender, schedule:deadline-passed, send-join, follow',
    'role fallback': 'repairing | abort-round, cancel:grace-over, stop-sender, stop-election, report-issue:session-incomplete, fetch:session-peers+origin',
    'role stopped': 'representing',
    'rep-lost': 'representing',
    'heard': 'representing',
    'joined': 'representing',
    'announce B gathering': 'representing',
    'block': 'representing | election-blocks, sender-block-ready',
    'first-role-due': 'representing',
    'start-due': 'representing',
    'grace-over': 'representing',
    'role-wait-over': 'representing',
    'deadline': 'representing',
    'sender-started': 'representing',
    'sender-failed': 'representing',
    'sender-closed': 'done | cancel:grace-over, stop-sender, stop-election, finish',
    'fetch complete r1': 'representing',
    'fetch complete r2': 'representing',
    'fetch failed r1': 'representing',
    'follow complete r1': 'representing',
    'follow closed r1': 'representing',
    'aborted': 'failed | abort-round, stop-sender, cancel:grace-over, stop-election, fail',
  },
  'following': {
    'start': 'following',
    'role rep': 'following | abort-round',
    'role follow C': 'following | abort-round',
    'role fallback': 'following | abort-round',
    'role stopped': 'following',
    'rep-lost': 'following',
    'heard': 'following',
    'joined': 'following',
    'announce B gathering': 'following | send-join',
    'block': 'following | election-blocks, schedule:deadline-passed',
    'first-role-due': 'following',
    'start-due': 'following',
    'grace-over': 'following',
    'role-wait-over': 'following',
    'deadline': 'following | abort-round',
    'sender-started': 'following',
    'sender-failed': 'following',
    'sender-closed': 'following',
    'fetch complete r1': 'following',
    'fetch complete r2': 'following',
    'fetch failed r1': 'following',
    'follow complete r1': 'done | cancel:deadline-passed, send-holdings, send-done, stop-election, finish',
    'follow closed r1': 'repairing | cancel:deadline-passed, stop-election, report-issue:session-incomplete, fetch:session-peers+origin',
    'aborted': 'failed | abort-round, cancel:deadline-passed, stop-election, fail',
  },
  'awaiting-role': {
    'start': 'awaiting-role',
    'role rep': 'representing | cancel:role-wait-over, start-sender',
    'role follow C': 'following | cancel:role-wait-over, schedule:deadline-passed, send-join, follow',
    'role fallback': 'repairing | cancel:role-wait-over, stop-election, report-issue:session-incomplete, fetch:session-peers+origin',
    'role stopped': 'awaiting-role',
    'rep-lost': 'awaiting-role',
    'heard': 'awaiting-role',
    'joined': 'awaiting-role',
    'announce B gathering': 'awaiting-role',
    'block': 'awaiting-role | election-blocks',
    'first-role-due': 'awaiting-role',
    'start-due': 'awaiting-role',
    'grace-over': 'awaiting-role',
    'role-wait-over': 'repairing | stop-election, report-issue:session-incomplete, fetch:session-peers+origin',
    'deadline': 'awaiting-role',
    'sender-started': 'awaiting-role',
    'sender-failed': 'awaiting-role',
    'sender-closed': 'awaiting-role',
    'fetch complete r1': 'awaiting-role',
    'fetch complete r2': 'awaiting-role',
    'fetch failed r1': 'awaiting-role',
    'follow complete r1': 'awaiting-role',
    'follow closed r1': 'awaiting-role',
    'aborted': 'failed | cancel:role-wait-over, stop-election, fail',
  },
  'repairing': {
    'start': 'repairing',
    'role rep': 'repairing',
    'role follow C': 'repairing',
    'role fallback': 'repairing',
    'role stopped': 'repairing',
    'rep-lost': 'repairing',
    'heard': 'repairing',
    'joined': 'repairing',
    'announce B gathering': 'repairing',
    'block': 'repairing | election-blocks',
    'first-role-due': 'repairing',
    'start-due': 'repairing',
    'grace-over': 'repairing',
    'role-wait-over': 'repairing',
    'deadline': 'repairing',
    'sender-started': 'repairing',
    'sender-failed': 'repairing',
    'sender-closed': 'repairing',
    'fetch complete r1': 'repairing',
    'fetch complete r2': 'done | send-holdings, finish',
    'fetch failed r1': 'repairing',
    'follow complete r1': 'repairing',
    'follow closed r1': 'repairing',
    'aborted': 'failed | fail',
  },
  'origin-only': {
    'start': 'origin-only',
    'role rep': 'origin-only',
    'role follow C': 'origin-only',
    'role fallback': 'origin-only',
    'role stopped': 'origin-only',
    'rep-lost': 'origin-only',
    'heard': 'origin-only',
    'joined': 'origin-only',
    'announce B gathering': 'origin-only',
    'block': 'origin-only | election-blocks',
    'first-role-due': 'origin-only',
    'start-due': 'origin-only',
    'grace-over': 'origin-only',
    'role-wait-over': 'origin-only',
    'deadline': 'origin-only',
    'sender-started': 'origin-only',
    'sender-failed': 'origin-only',
    'sender-closed': 'origin-only',
    'fetch complete r1': 'done | finish',
    'fetch complete r2': 'origin-only',
    'fetch failed r1': 'failed | fail',
    'follow complete r1': 'origin-only',
    'follow closed r1': 'origin-only',
    'aborted': 'failed | fail',
  },
  'done': {
    'start': 'done',
    'role rep': 'done',
    'role follow C': 'done',
    'role fallback': 'done',
    'role stopped': 'done',
    'rep-lost': 'done',
    'heard': 'done',
    'joined': 'done',
    'announce B gathering': 'done',
    'block': 'done',
    'first-role-due': 'done',
    'start-due': 'done',
    'grace-over': 'done',
    'role-wait-over': 'done',
    'deadline': 'done',
    'sender-started': 'done',
    'sender-failed': 'done',
    'sender-closed': 'done',
    'fetch complete r1': 'done',
    'fetch complete r2': 'done',
    'fetch failed r1': 'done',
    'follow complete r1': 'done',
    'follow closed r1': 'done',
    'aborted': 'done',
  },
  'failed': {
    'start': 'failed',
    'role rep': 'failed',
    'role follow C': 'failed',
    'role fallback': 'failed',
    'role stopped': 'failed',
    'rep-lost': 'failed',
    'heard': 'failed',
    'joined': 'failed',
    'announce B gathering': 'failed',
    'block': 'failed',
    'first-role-due': 'failed',
    'start-due': 'failed',
    'grace-over': 'failed',
    'role-wait-over': 'failed',
    'deadline': 'failed',
    'sender-started': 'failed',
    'sender-failed': 'failed',
    'sender-closed': 'failed',
    'fetch complete r1': 'failed',
    'fetch complete r2': 'failed',
    'fetch failed r1': 'failed',
    'follow complete r1': 'failed',
    'follow closed r1': 'failed',
    'aborted': 'failed',
  },
};

function summary(effect: LanSessionEffect): string {
  let s: string = effect.type;
  if ('timer' in effect) s += `:${effect.timer}`;
  if ('sources' in effect) s += `:${effect.sources.join('+')}`;
  if ('issue' in effect) s += `:${effect.issue.kind}`;
  return s;
}

test('the matrix covers every event type in every state', () => {
  const used = new Set(Object.values(EVENTS).map((e) => e.type));
  assert.deepEqual([...used].sort(), [...EVENT_TYPES].sort());
  assert.deepEqual(Object.keys(MATRIX).sort(), Object.keys(STATES).sort());
  for (const [name, row] of Object.entries(MATRIX)) assert.deepEqual(Object.keys(row).sort(), Object.keys(EVENTS).sort(), name);
});

for (const [stateName, steps] of Object.entries(STATES)) {
  test(`matrix: ${stateName}`, () => {
    const { state } = run(steps);
    for (const [eventName, event] of Object.entries(EVENTS)) {
      const result = reduceLanSession(state, event, LATE, CTX);
      const effects = result.effects.filter((e) => e.type !== 'log').map(summary);
      const got = result.state.phase + (effects.length > 0 ? ' | ' + effects.join(', ') : '');
      assert.equal(got, MATRIX[stateName][eventName], `${stateName} + ${eventName}`);
    }
  });
}
