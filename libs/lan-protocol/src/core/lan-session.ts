import { FollowDeadlineOptions, followDeadlineMs } from './session-deadline';

/**
 * A device's part in its task's subnet session, as a pure reducer `(state, event, now, context) ->
 * { state, effects }`: what the device does in each role the election settles on, when the
 * representative's multicast starts, when a follower gives up on its representative, and what the
 * device reports. The agent's LAN download feeds it the election's roles, the session's JOIN and
 * PEER_HAVE, the blocks its fetches store, its timers and the ends of what it started, and carries
 * out the effects (sockets, files, timers); it decides nothing itself.
 *
 *   electing --role--> representing | following | origin-only (weight 0, nobody announced)
 *   electing --first-role-due--> origin-only (LAN.SESSION_DEADLINE: no role settled in time)
 *   representing --fetch-ended, the multicast closed (or nobody needed it)--> done
 *   following --follow-ended complete--> done
 *   following --follow-ended closed | deadline passed--> repairing (peers, then the origin) --> done
 *   following --follow-ended silent--> awaiting-role --role--> representing | following
 *   awaiting-role --role-wait-over--> repairing
 *   a round (representing, following) whose role changed is aborted; the next one starts once it ended
 *   any --aborted--> failed
 *
 * Rules (each as the agent had them before they were a reducer; the tests name them):
 * - A representative's multicast starts after the task's start delay, or as soon as every other
 *   target device of the subnet has joined; a takeover gathers for TAKEOVER_GATHER_KEEP_ALIVES only;
 *   the only target of a known subnet does not wait at all. A start with nobody to send to waits for
 *   the first JOIN instead of multicasting to nobody.
 * - A representative that is complete before anybody joined still waits JOIN_GRACE_KEEP_ALIVES
 *   keep-alives before it closes without a multicast (LAN.NOBODY_JOINED when none of the targets ever joined).
 * - A successor (a representative elected after one fell silent) waits for the gather before it
 *   fetches, and leaves out of the pass the blocks every device that joined holds.
 * - A follower repeats its JOIN on every ANNOUNCE of its representative while that session gathers.
- A follower's deadline counts verified blocks only (`session-deadline.ts`); past it the follower
 *   stops its election and repairs from peers, then the origin.
 * - Repairs always go multicast, then peers (when the task allows), then the origin.
 * - A follower that completed sends PEER_HAVE, then DONE: the representative closes on the last
 *   DONE, and a late joiner, which said DONE for its part, turns to the peers it heard of on the close.
 * - Events of an ended round (`round` is not the current one) and timers not due are ignored, so
 *   the adapter needs no bookkeeping of its own.
 */

export type LanSessionPhase = 'idle' | 'electing' | 'representing' | 'following' | 'awaiting-role' | 'repairing' | 'origin-only' | 'done' | 'failed';

/** A role the election settled on. */
export type SessionRole = { role: 'representative' } | { role: 'follower'; representativeId: string } | { role: 'fallback'; reason: 'no-representative' | 'stopped' };

/** What the device reports as its part (LanActivity.role). */
export type ActivityRole = 'none' | 'representative' | 'receiver';

/** Where a fetch takes blocks from, in order. `session-peers`: the peers announced and those the control plane named. */
export type FetchSource = 'peers' | 'session-peers' | 'origin';

/** Why the session fell short for this device; the adapter words it (and maps it to a LanIssueCode). */
export type SessionIssue =
  /** No role settled within the election's own bound. */
  | { kind: 'no-role'; waitedMs: number }
  /** The election fell back before this device had any role. */
  | { kind: 'no-representative'; reason: string }
  /** None of the subnet's other targets joined while this representative gathered. */
  | { kind: 'nobody-joined'; targets: number; fetchedAlone: boolean }
  /** The representative delivered no verified block before the follower's deadline. */
  | { kind: 'follow-deadline'; representativeId: string; blocks: number; waitedMs: number; peersAllowed: boolean }
  /** The session ended with blocks missing here. */
  | { kind: 'session-incomplete'; missing: number; peersAllowed: boolean };

/** Timed events; each `schedule` names the event that fires. */
export type SessionTimer = 'first-role-due' | 'start-due' | 'grace-over' | 'role-wait-over' | 'deadline-passed';

/** The representative's round. */
export interface RepresentRound {
  kind: 'represent';
  id: number;
  /** Elected after a representative fell silent: a session already under way. */
  takeover: boolean;
  /** The subnet's other targets, less the representatives lost (sender IDs). */
  targets: string[];
  /** The control plane knows the subnet and no other target is on it. */
  alone: boolean;
  /** Blocks held when the round began (ready for the sender at once). */
  heldAtStart: number[];
  /** starting-sender: the sender is being made; closing: complete here, waiting to close or to multicast. */
  stage: 'starting-sender' | 'awaiting-gather' | 'fetching' | 'closing' | 'multicasting';
  /** Wait for the gather only (a takeover), or the gather or the grace (a device holds more than this one). */
  waitFor: 'gather' | 'gather-or-grace' | null;
  startDueAtMs: number | null;
  graceAtMs: number;
  gathered: boolean;
  graceOver: boolean;
  /** The start found nobody to send to: the first JOIN starts the multicast. */
  waitingForJoin: boolean;
  multicastStarted: boolean;
  /** The sender closed the session (it may before this device's own fetch ended, on an error). */
  senderClosed: boolean;
  fetchedAlone: boolean;
  /** The role changed: aborted, its fetch still ending. */
  aborting: boolean;
}

/** A follower's round. */
export interface FollowRound {
  kind: 'follow';
  id: number;
  representativeId: string;
  /** The role sequence when the round began: a role settled later means the election moved on. */
  roleSeq: number;
  sinceMs: number;
  lastBlockAtMs: number | null;
  blocksHeldAtJoin: number;
  blocks: number;
  deadlineAtMs: number;
  deadlinePassed: boolean;
  aborting: boolean;
}

/** A fetch outside a role (origin only, repair): never aborted by the election. */
export interface FetchRound {
  kind: 'fetch';
  id: number;
}

export type SessionRound = RepresentRound | FollowRound | FetchRound;

/** Plain JSON. */
export interface LanSessionState {
  phase: LanSessionPhase;
  /** Which block this device holds, verified (1) or not (0). */
  held: number[];
  heldCount: number;
  activity: ActivityRole;
  /** The role the election first settled on (the run's result reports it). */
  firstRole: SessionRole | null;
  role: SessionRole | null;
  roleSeq: number;
  firstRoleDueAtMs: number | null;
  roleWaitAtMs: number | null;
  /** Sender IDs heard in JOIN or PEER_HAVE (since this device last took over). */
  joined: string[];
  /** Of those, the devices that hold every block: they need no multicast. */
  complete: string[];
  /** Blocks each device said it holds in PEER_HAVE. */
  holdings: Record<string, number[]>;
  /** Peer block servers announced in PEER_HAVE, by sender ID. */
  peers: Record<string, string>;
  /** Representatives this device saw fall silent. */
  lost: string[];
  /** Devices of the current election round (DISCOVER, CLAIM) and the most blocks one of them holds. */
  othersHeard: number;
  mostBlocksHeldByOthers: number;
  issue: SessionIssue | null;
  blocksFetched: number;
  /** Blocks repaired after the session (peers, origin): the activity's `repairs` of a receiver. */
  repairs: number;
  round: SessionRound | null;
  nextRoundId: number;
  electionStopped: boolean;
}

/** Per task, fixed: the task's settings and the election's timing. */
export interface LanSessionContext {
  blocks: number;
  blockSize: number;
  /** The subnet's other target devices (sender IDs), as the control plane names them. */
  targets: readonly string[];
  /** The control plane knows this device's subnet. */
  subnetKnown: boolean;
  startDelayMs: number;
  rateKbps: number;
  stallMs: number;
  peerDownloadAllowed: boolean;
  /** This device runs a peer block server (its PEER_HAVE has a port to name). */
  servesPeers: boolean;
  keepAliveIntervalMs: number;
  missedKeepAlives: number;
  noRepresentativeTimeoutMs: number;
}

export type LanSessionEvent =
  /** The run began; `held`: the verified blocks in the cache. */
  | { type: 'start'; held: readonly number[] }
  /** The election settled on a role (the first one, or a later one). */
  | { type: 'role-changed'; role: SessionRole }
  /** The followed representative missed its keep-alives. */
  | { type: 'representative-lost'; representativeId: string }
  /** The election's round heard devices (DISCOVER, CLAIM). */
  | { type: 'election-heard'; othersHeard: number; mostBlocksHeldByOthers: number }
  /** A JOIN (`blocksHeld`) or a PEER_HAVE (`holdings`, null when its ranges are unusable) of another device. */
  | { type: 'member-joined'; from: string; blocksHeld?: number; holdings?: { peerUrl: string; blocks: readonly number[] | null } }
  /** An ANNOUNCE of `from`; `gathering`: its session has not started the multicast yet. */
  | { type: 'announce-heard'; from: string; gathering: boolean }
  /** A fetch stored block `index`, verified. */
  | { type: 'block-ready'; index: number }
  | { type: 'first-role-due' }
  | { type: 'start-due' }
  | { type: 'grace-over' }
  | { type: 'role-wait-over' }
  | { type: 'deadline-passed' }
  /** The sender of the round is made (`start-sender`) and announcing. */
  | { type: 'sender-started'; round: number }
  /** The sender could not be made (content the session cannot lay out). */
  | { type: 'sender-failed'; round: number; message: string }
  /** The multicast sender closed the session (`error`: it ended with one). */
  | { type: 'sender-closed'; round: number; error?: string }
  /** A fetch (`fetch` effect) ended. `error` is passed back in `fail`, as it is. */
  | { type: 'fetch-ended'; round: number; outcome: 'complete'; alreadyCached: boolean }
  | { type: 'fetch-ended'; round: number; outcome: 'aborted' | 'failed'; error: unknown }
  /** A follower's multicast (`follow` effect) ended: complete, closed short, fell silent, aborted or failed otherwise. */
  | { type: 'follow-ended'; round: number; outcome: 'complete'; alreadyCached: boolean }
  | { type: 'follow-ended'; round: number; outcome: 'closed' | 'silent' | 'aborted' | 'failed'; error?: unknown }
  /** The task was cancelled. */
  | { type: 'aborted' };

export type LanSessionEffect =
  | { type: 'start-election' }
  | { type: 'stop-election' }
  /** This device's verified block count, for the election's ranking. */
  | { type: 'election-blocks'; count: number }
  | { type: 'schedule'; timer: SessionTimer; atMs: number }
  | { type: 'cancel'; timer: SessionTimer }
  | { type: 'send-join'; blocksHeld: number }
  /** PEER_HAVE of these blocks (only when the device serves peers). */
  | { type: 'send-holdings'; blocks: number[] }
  /**
   * DONE to the representative: this follower holds every block, written, and its PEER_HAVE went
   * first (the follow's receiver does not send it itself: see `follow`).
   */
  | { type: 'send-done'; blocksHeld: number }
  /** Make a multicast sender for the round, with `ready` blocks ready at once. */
  | { type: 'start-sender'; round: number; ready: number[] }
  | { type: 'sender-block-ready'; index: number }
  /** Every block is ready (the representative's copy is complete). */
  | { type: 'sender-all-ready' }
  /** Leave `skip` out of the first pass, then begin the multicast (`takeover`, `targets`: for the log). */
  | { type: 'start-multicast'; skip: number[]; why: string; takeover: boolean; targets: number }
  | { type: 'stop-sender' }
  /** Fetch the missing blocks from `sources` in order; `fetch-ended` follows. */
  | { type: 'fetch'; round: number; sources: FetchSource[] }
  /**
   * Receive the multicast of `representativeId` for the missing blocks; `follow-ended` follows. The
   * receiver says DONE for a late joiner's part (it needs nothing more from the session) but not
   * when it completes: that DONE is `send-done`, after the PEER_HAVE.
   */
  | { type: 'follow'; round: number; representativeId: string }
  | { type: 'abort-round'; round: number }
  | { type: 'report-issue'; issue: SessionIssue }
  | { type: 'log'; level: 'info' | 'warn'; message: string; fields?: Record<string, unknown> }
  /** The run is over: its result is the last fetch's, and `role` the first role. */
  | { type: 'finish'; role: SessionRole }
  | { type: 'fail'; error: unknown };

export interface LanSessionResult {
  state: LanSessionState;
  effects: LanSessionEffect[];
}

/**
 * A successor's wait for the followers of the lost representative to re-join, at most (it ends as
 * soon as every target device but the lost ones has): three keep-alive intervals. They are already
 * waiting in the election's new round and follow on the successor's first ANNOUNCE (sent at once);
 * a lost ANNOUNCE is repeated every keep-alive.
 */
export const TAKEOVER_GATHER_KEEP_ALIVES = 3;

/**
 * A representative that is ready before anybody joined (it held the content, or the start delay is
 * 0) still waits this many keep-alives before it closes without a multicast: followers JOIN when
 * they hear its first ANNOUNCE, and a lost JOIN is repeated on the next one.
 */
export const JOIN_GRACE_KEEP_ALIVES = 3;

/**
 * How long a device waits for the election to settle on a role: the election's own time to
 * declare the representative dead (missed keep-alives) plus its time to give up on finding one (the
 * no-representative timeout, which covers a discovery window, a claim window and a better device
 * that never claims). Both the first role and a successor after a silent representative get it.
 */
export function roleWaitMs(context: Pick<LanSessionContext, 'missedKeepAlives' | 'keepAliveIntervalMs' | 'noRepresentativeTimeoutMs'>): number {
  return context.missedKeepAlives * context.keepAliveIntervalMs + context.noRepresentativeTimeoutMs;
}

export function newLanSession(blocks: number): LanSessionState {
  return {
    phase: 'idle',
    held: new Array<number>(blocks).fill(0),
    heldCount: 0,
    activity: 'none',
    firstRole: null,
    role: null,
    roleSeq: 0,
    firstRoleDueAtMs: null,
    roleWaitAtMs: null,
    joined: [],
    complete: [],
    holdings: {},
    peers: {},
    lost: [],
    othersHeard: 0,
    mostBlocksHeldByOthers: 0,
    issue: null,
    blocksFetched: 0,
    repairs: 0,
    round: null,
    nextRoundId: 1,
    electionStopped: false,
  };
}

/** A role as a comparable key: the same representative followed is the same role. */
export function roleKey(role: SessionRole): string {
  return role.role === 'follower' ? `follower:${role.representativeId}` : role.role;
}

const FINAL: readonly LanSessionPhase[] = ['done', 'failed'];

export function reduceLanSession(state: LanSessionState, event: LanSessionEvent, now: number, context: LanSessionContext): LanSessionResult {
  if (FINAL.includes(state.phase)) return unchanged(state);
  if (state.phase === 'idle' && event.type !== 'start') return unchanged(state);
  const out: LanSessionEffect[] = [];
  const next = apply({ ...state }, event, now, context, out);
  return { state: next, effects: out };
}

/** `s` is a fresh copy the handlers may change; arrays and records inside it are replaced, never changed. */
function apply(s: LanSessionState, event: LanSessionEvent, now: number, c: LanSessionContext, out: LanSessionEffect[]): LanSessionState {
  switch (event.type) {
    case 'start': {
      if (s.phase !== 'idle') return s;
      const held = s.held.slice();
      let count = 0;
      for (const i of event.held) {
        if (i >= 0 && i < held.length && held[i] === 0) {
          held[i] = 1;
          count++;
        }
      }
      const due = now + roleWaitMs(c);
      out.push({ type: 'start-election' }, { type: 'schedule', timer: 'first-role-due', atMs: due });
      return { ...s, phase: 'electing', held, heldCount: count, firstRoleDueAtMs: due };
    }

    case 'aborted': {
      if (s.round !== null && s.round.kind !== 'fetch') out.push({ type: 'abort-round', round: s.round.id });
      stopSenderOf(s, out);
      cancelAll(s, out);
      if (!s.electionStopped) out.push({ type: 'stop-election' });
      out.push({ type: 'fail', error: 'aborted' });
      return { ...s, phase: 'failed', round: null, electionStopped: true };
    }

    case 'role-changed':
      return onRole(s, event.role, now, c, out);

    case 'representative-lost':
      if (s.lost.includes(event.representativeId)) return s;
      out.push({ type: 'log', level: 'warn', message: 'representative fell silent: electing a successor', fields: { representativeId: event.representativeId } });
      return { ...s, lost: [...s.lost, event.representativeId] };

    case 'election-heard':
      return { ...s, othersHeard: event.othersHeard, mostBlocksHeldByOthers: event.mostBlocksHeldByOthers };

    case 'member-joined':
      return onMember(s, event, c, out);

    case 'block-ready':
      return onBlock(s, event.index, now, c, out);

    case 'announce-heard': {
      // A JOIN lost on the LAN would hold the representative to its full start delay: repeat it on
      // every ANNOUNCE of the followed representative until its session leaves the gathering phase.
      const r = s.round;
      if (!event.gathering || r?.kind !== 'follow' || r.aborting || r.representativeId !== event.from) return s;
      out.push({ type: 'send-join', blocksHeld: r.blocksHeldAtJoin });
      return s;
    }

    case 'first-role-due': {
      if (s.phase !== 'electing' || s.firstRoleDueAtMs === null || now < s.firstRoleDueAtMs) return s;
      // Devices that keep claiming and never announce would otherwise hold this device in the election for ever.
      out.push({ type: 'stop-election' });
      s = { ...s, electionStopped: true, firstRoleDueAtMs: null, firstRole: { role: 'fallback', reason: 'no-representative' } };
      s = noteIssue(s, { kind: 'no-role', waitedMs: roleWaitMs(c) }, out);
      return fetchOutsideRole(s, 'origin-only', ['origin'], out);
    }

    case 'start-due': {
      const r = s.round;
      if (s.phase !== 'representing' || r?.kind !== 'represent' || r.aborting || r.startDueAtMs === null || now < r.startDueAtMs) return s;
      return startMulticast(s, r, r.takeover ? 'takeover gather window over' : 'session start delay over', c, out);
    }

    case 'grace-over': {
      const r = s.round;
      if (s.phase !== 'representing' || r?.kind !== 'represent' || r.aborting || r.graceOver || now < r.graceAtMs) return s;
      return advanceRepresent(s, { ...r, graceOver: true }, c, out);
    }

    case 'role-wait-over':
      if (s.phase !== 'awaiting-role' || s.roleWaitAtMs === null || now < s.roleWaitAtMs) return s;
      // The session is over for this device: without stopping it, the election would elect a
      // successor once the representative that closed the session stops announcing.
      return repairRest(stopElection({ ...s, roleWaitAtMs: null }, out), c, out);

    case 'deadline-passed': {
      const r = s.round;
      if (s.phase !== 'following' || r?.kind !== 'follow' || r.aborting || now < r.deadlineAtMs) return s;
      out.push({ type: 'abort-round', round: r.id });
      return { ...s, round: { ...r, deadlinePassed: true, aborting: true } };
    }

    case 'sender-started': {
      const r = s.round;
      if (r?.kind !== 'represent' || r.id !== event.round || r.stage !== 'starting-sender') return s;
      return senderStarted(s, r, now, c, out);
    }

    case 'sender-failed': {
      const r = s.round;
      if (r?.kind !== 'represent' || r.id !== event.round || r.stage !== 'starting-sender') return s;
      // Content the session cannot lay out (an empty file): the followers fall back after their silence timeout.
      out.push({ type: 'log', level: 'warn', message: 'cannot multicast this content; downloading from the origin only', fields: { err: event.message } });
      return fetchOutsideRole({ ...s, round: null }, 'origin-only', ['origin'], out);
    }

    case 'sender-closed': {
      const r = s.round;
      if (r?.kind !== 'represent' || r.id !== event.round || r.aborting || r.senderClosed) return s;
      // Our own copy is complete and verified: a broken session costs the followers a fallback, not us the task.
      if (event.error !== undefined) out.push({ type: 'log', level: 'warn', message: 'multicast session ended with an error', fields: { err: event.error } });
      return advanceRepresent(s, { ...r, senderClosed: true }, c, out);
    }

    case 'fetch-ended':
      return onFetchEnded(s, event, now, c, out);

    case 'follow-ended':
      return onFollowEnded(s, event, now, c, out);
  }
}

function onRole(s: LanSessionState, role: SessionRole, now: number, c: LanSessionContext, out: LanSessionEffect[]): LanSessionState {
  if (role.role === 'fallback' && role.reason === 'stopped') return s;
  // Once the device fetches by itself, the election has nothing more to say.
  if (s.phase === 'origin-only' || s.phase === 'repairing') return s;
  const previous = s.role;
  s = { ...s, role, roleSeq: s.roleSeq + 1 };
  if (previous !== null && roleKey(previous) !== roleKey(role)) {
    out.push({ type: 'log', level: 'info', message: 'LAN session role changed', fields: { from: roleKey(previous), to: roleKey(role) } });
  }
  if (role.role === 'follower' && previous?.role === 'representative' && s.round?.kind === 'represent') {
    out.push({ type: 'log', level: 'warn', message: 'stepped down as representative: the multicast and the download stop, this device follows the winner', fields: { representativeId: role.representativeId } });
  }
  if (s.phase === 'electing') {
    out.push({ type: 'cancel', timer: 'first-role-due' }, { type: 'log', level: 'info', message: 'LAN session role', fields: { ...role } });
    return beginRound({ ...s, firstRole: role, firstRoleDueAtMs: null }, now, c, out);
  }
  if (s.phase === 'awaiting-role') {
    out.push({ type: 'cancel', timer: 'role-wait-over' });
    return beginRound({ ...s, roleWaitAtMs: null }, now, c, out);
  }
  const r = s.round;
  if (r === null || r.kind === 'fetch' || r.aborting) return s;
  const current = r.kind === 'represent' ? 'representative' : `follower:${r.representativeId}`;
  if (current === roleKey(role)) return s;
  // A round doing something else is abandoned; the next one starts once it has ended.
  out.push({ type: 'abort-round', round: r.id });
  if (r.kind === 'represent') {
    // Waiting, not fetching: nothing to wait for.
    if (r.stage !== 'fetching') return beginRound(endRepresentRound(s, r, out), now, c, out);
    return { ...s, round: { ...r, aborting: true } };
  }
  return { ...s, round: { ...r, aborting: true } };
}

/** Starts what the current role says (the previous round has ended). */
function beginRound(s: LanSessionState, now: number, c: LanSessionContext, out: LanSessionEffect[]): LanSessionState {
  const role = s.role as SessionRole;
  if (role.role === 'representative') return beginRepresent(s, now, c, out);
  if (role.role === 'follower') return beginFollow(s, role.representativeId, now, c, out);
  s = stopElection(s, out);
  if (s.activity === 'none') {
    s = noteIssue(s, { kind: 'no-representative', reason: role.reason }, out);
    return fetchOutsideRole(s, 'origin-only', ['origin'], out);
  }
  // A follower whose representative was lost and no successor came forward.
  return repairRest(s, c, out);
}

function beginRepresent(s: LanSessionState, now: number, c: LanSessionContext, out: LanSessionEffect[]): LanSessionState {
  const takeover = s.lost.length > 0;
  const id = s.nextRoundId;
  // A successor gathers the devices of the session again: only JOINs from now on count.
  if (takeover) s = { ...s, joined: [], complete: [] };
  const targets = c.targets.filter((t) => !s.lost.includes(t));
  const heldAtStart = heldList(s);
  const r: RepresentRound = {
    kind: 'represent',
    id,
    takeover,
    targets,
    alone: !takeover && targets.length === 0 && c.subnetKnown,
    heldAtStart,
    stage: 'starting-sender',
    waitFor: null,
    startDueAtMs: null,
    graceAtMs: now,
    gathered: false,
    graceOver: false,
    waitingForJoin: false,
    multicastStarted: false,
    senderClosed: false,
    fetchedAlone: false,
    aborting: false,
  };
  out.push({ type: 'start-sender', round: id, ready: heldAtStart });
  return { ...s, activity: 'representative', nextRoundId: id + 1, phase: 'representing', round: r };
}

/** The round's sender announces: the start delay and the grace begin. */
function senderStarted(s: LanSessionState, r: RepresentRound, now: number, c: LanSessionContext, out: LanSessionEffect[]): LanSessionState {
  const graceAtMs = now + (r.alone ? 0 : JOIN_GRACE_KEEP_ALIVES * c.keepAliveIntervalMs);
  // A takeover gathers for a short while whatever the start delay: the devices are already waiting
  // for a successor, and their PEER_HAVE is what keeps the successor from fetching blocks they hold.
  const gatherMs = r.alone ? 0 : r.takeover ? TAKEOVER_GATHER_KEEP_ALIVES * c.keepAliveIntervalMs : c.startDelayMs;
  // A successor asks the followers' PEER_HAVE before it fetches; a device that lost the election by
  // weight but holds more answers the first ANNOUNCE with PEER_HAVE: wait for it (or for everyone)
  // so that its blocks do not cross the WAN again.
  const waitFor = r.takeover ? 'gather' : s.mostBlocksHeldByOthers > r.heldAtStart.length ? 'gather-or-grace' : null;
  r = { ...r, stage: 'awaiting-gather', waitFor, graceAtMs, startDueAtMs: now + gatherMs };
  out.push({ type: 'schedule', timer: 'grace-over', atMs: graceAtMs });
  if (allJoined(s, r)) {
    s = startMulticast(s, r, 'every target device of the subnet joined', c, out);
    r = s.round as RepresentRound;
  } else {
    out.push({ type: 'schedule', timer: 'start-due', atMs: r.startDueAtMs as number });
  }
  return advanceRepresent(s, r, c, out);
}

/** Moves a representative round on as far as what has happened allows. */
function advanceRepresent(s: LanSessionState, r: RepresentRound, c: LanSessionContext, out: LanSessionEffect[]): LanSessionState {
  if (r.stage === 'awaiting-gather') {
    const waiting = r.waitFor === 'gather' ? !r.gathered : r.waitFor === 'gather-or-grace' ? !r.gathered && !r.graceOver : false;
    if (waiting) return { ...s, round: r };
    // Nobody heard on the multicast group (blocked there, or the session long over): the peers the
    // control plane names may hold the content, and are asked before the origin.
    const heardNobody = !r.takeover && s.joined.length === 0 && s.othersHeard === 0;
    const peers: FetchSource = heardNobody ? 'session-peers' : 'peers';
    out.push({ type: 'fetch', round: r.id, sources: c.peerDownloadAllowed ? [peers, 'origin'] : ['origin'] });
    return { ...s, round: { ...r, stage: 'fetching' } };
  }
  if (r.stage !== 'closing' && r.stage !== 'multicasting') return { ...s, round: r };
  // Complete here. A device that held the content (or fetched it fast) still gives the others the
  // start delay and, while nobody needs its multicast, the time to answer its first ANNOUNCE.
  if (!r.gathered) return { ...s, round: r };
  if (!r.multicastStarted && !r.graceOver) return { ...s, round: r };
  if (r.multicastStarted) {
    if (!r.senderClosed) return { ...s, round: { ...r, stage: 'multicasting' } };
    out.push({ type: 'log', level: 'info', message: 'multicast session closed' });
    return finish(endRepresentRound(s, r, out), out);
  }
  out.push({ type: 'log', level: 'info', message: 'multicast session closed without a multicast: nobody needed it', fields: { joined: s.joined.length, targets: r.targets.length } });
  if (!r.takeover && r.targets.length > 0 && s.joined.length === 0) {
    s = noteIssue(s, { kind: 'nobody-joined', targets: r.targets.length, fetchedAlone: r.fetchedAlone }, out);
  }
  return finish(endRepresentRound(s, r, out), out);
}

/** The start delay is over, or everyone joined: the multicast starts if anybody needs it. */
function startMulticast(s: LanSessionState, r: RepresentRound, why: string, c: LanSessionContext, out: LanSessionEffect[]): LanSessionState {
  if (r.startDueAtMs !== null) out.push({ type: 'cancel', timer: 'start-due' });
  r = { ...r, gathered: true, startDueAtMs: null };
  if (r.multicastStarted) return advanceRepresent(s, r, c, out);
  const receivers = s.joined.filter((id) => !s.complete.includes(id));
  if (receivers.length === 0) {
    // Multicasting to nobody costs LAN bandwidth and, for a device that holds the content, the
    // time of a whole pass. The session stays announced while this device's download runs.
    if (!r.waitingForJoin) {
      out.push({
        type: 'log',
        level: 'info',
        message: r.alone ? 'no other target device on this subnet: no multicast' : 'nobody to multicast to yet: the first device that joins starts it',
        fields: { why, joined: s.joined.length, targets: r.targets.length },
      });
    }
    return advanceRepresent(s, { ...r, waitingForJoin: true }, c, out);
  }
  // Blocks every device that joined holds (their PEER_HAVE says which) are not sent: after a
  // takeover most of the content is on the subnet already.
  const skip = r.heldAtStart.filter((i) => s.joined.every((id) => s.holdings[id]?.includes(i) === true));
  out.push({ type: 'start-multicast', skip, why, takeover: r.takeover, targets: r.targets.length });
  return advanceRepresent(s, { ...r, multicastStarted: true }, c, out);
}

function endRepresentRound(s: LanSessionState, r: RepresentRound, out: LanSessionEffect[]): LanSessionState {
  if (r.startDueAtMs !== null) out.push({ type: 'cancel', timer: 'start-due' });
  if (!r.graceOver) out.push({ type: 'cancel', timer: 'grace-over' });
  out.push({ type: 'stop-sender' });
  return { ...s, round: null };
}

function beginFollow(s: LanSessionState, representativeId: string, now: number, c: LanSessionContext, out: LanSessionEffect[]): LanSessionState {
  const id = s.nextRoundId;
  const held = heldList(s);
  const r: FollowRound = {
    kind: 'follow',
    id,
    representativeId,
    roleSeq: s.roleSeq,
    sinceMs: now,
    lastBlockAtMs: null,
    blocksHeldAtJoin: held.length,
    blocks: 0,
    deadlineAtMs: 0,
    deadlinePassed: false,
    aborting: false,
  };
  // The representative must deliver verified blocks, not only keep-alives (session-deadline.ts).
  r.deadlineAtMs = followDeadlineMs(r, deadlineOptions(c));
  out.push({ type: 'schedule', timer: 'deadline-passed', atMs: r.deadlineAtMs });
  // PEER_HAVE before JOIN: a successor decides what to skip when the last follower joins.
  sendHoldings(held, c, out);
  out.push({ type: 'send-join', blocksHeld: held.length }, { type: 'follow', round: id, representativeId });
  return { ...s, activity: 'receiver', phase: 'following', nextRoundId: id + 1, round: r };
}

function onMember(s: LanSessionState, event: Extract<LanSessionEvent, { type: 'member-joined' }>, c: LanSessionContext, out: LanSessionEffect[]): LanSessionState {
  let complete = s.complete;
  const addComplete = () => {
    if (!complete.includes(event.from)) complete = [...complete, event.from];
  };
  if (event.blocksHeld !== undefined && event.blocksHeld >= c.blocks) addComplete();
  let { holdings, peers } = s;
  if (event.holdings !== undefined) {
    peers = { ...peers, [event.from]: event.holdings.peerUrl };
    if (event.holdings.blocks !== null) {
      const merged = [...new Set([...(holdings[event.from] ?? []), ...event.holdings.blocks])].sort((a, b) => a - b);
      holdings = { ...holdings, [event.from]: merged };
      if (merged.length >= c.blocks) addComplete();
    }
  }
  s = { ...s, complete, holdings, peers };
  if (s.joined.includes(event.from)) return s;
  s = { ...s, joined: [...s.joined, event.from] };
  const r = s.round;
  // A sender still being made looks at who joined once it announces.
  if (s.phase !== 'representing' || r?.kind !== 'represent' || r.aborting || r.stage === 'starting-sender') return s;
  if (allJoined(s, r)) return startMulticast(s, r, 'every target device of the subnet joined', c, out);
  if (r.waitingForJoin) return startMulticast(s, r, 'a device joined after the session start delay', c, out);
  return s;
}

function onBlock(s: LanSessionState, index: number, now: number, c: LanSessionContext, out: LanSessionEffect[]): LanSessionState {
  if (index < 0 || index >= s.held.length) return s;
  const fresh = s.held[index] === 0;
  if (fresh) {
    const held = s.held.slice();
    held[index] = 1;
    s = { ...s, held, heldCount: s.heldCount + 1 };
  }
  s = { ...s, blocksFetched: s.blocksFetched + 1, repairs: s.phase === 'repairing' ? s.repairs + 1 : s.repairs };
  out.push({ type: 'election-blocks', count: s.heldCount });
  const r = s.round;
  if (r?.kind === 'represent' && !r.aborting) out.push({ type: 'sender-block-ready', index });
  if (r?.kind === 'follow' && !r.aborting) {
    const next: FollowRound = { ...r, blocks: r.blocks + 1, lastBlockAtMs: now };
    next.deadlineAtMs = followDeadlineMs(next, deadlineOptions(c));
    out.push({ type: 'schedule', timer: 'deadline-passed', atMs: next.deadlineAtMs });
    return { ...s, round: next };
  }
  return s;
}

function onFetchEnded(s: LanSessionState, event: Extract<LanSessionEvent, { type: 'fetch-ended' }>, now: number, c: LanSessionContext, out: LanSessionEffect[]): LanSessionState {
  const r = s.round;
  if (r === null || r.id !== event.round || r.kind === 'follow') return s;
  if (r.kind === 'fetch') {
    if (event.outcome !== 'complete') return fail({ ...s, round: null }, event.error, out);
    // Done after the session: the device now serves the whole content to peers.
    if (s.phase === 'repairing') sendHoldings(allBlocks(c), c, out);
    return finish({ ...s, round: null }, out);
  }
  if (r.stage !== 'fetching') return s;
  if (r.aborting) {
    // Stepped down: not a failure; the next round works on what this device holds.
    return beginRound(endRepresentRound(s, r, out), now, c, out);
  }
  if (event.outcome !== 'complete') return fail(endRepresentRound(s, r, out), event.error, out);
  // Blocks that were in the cache already, or resumed: all are ready now.
  out.push({ type: 'sender-all-ready' });
  sendHoldings(allBlocks(c), c, out);
  return advanceRepresent(s, { ...r, stage: 'closing', fetchedAlone: !event.alreadyCached }, c, out);
}

function onFollowEnded(s: LanSessionState, event: Extract<LanSessionEvent, { type: 'follow-ended' }>, now: number, c: LanSessionContext, out: LanSessionEffect[]): LanSessionState {
  const r = s.round;
  if (r?.kind !== 'follow' || r.id !== event.round) return s;
  out.push({ type: 'cancel', timer: 'deadline-passed' });
  s = { ...s, round: null };
  if (event.outcome === 'complete') {
    // PEER_HAVE before DONE: the representative closes on the last DONE, and a late joiner turns to
    // its peers on the close; it must know them by then, or it takes the blocks from the origin.
    sendHoldings(allBlocks(c), c, out);
    out.push({ type: 'send-done', blocksHeld: c.blocks });
    return finish(s, out);
  }
  if (r.deadlinePassed) {
    const waitedMs = now - (r.lastBlockAtMs ?? r.sinceMs);
    s = noteIssue(s, { kind: 'follow-deadline', representativeId: r.representativeId, blocks: r.blocks, waitedMs, peersAllowed: c.peerDownloadAllowed }, out);
    return repairRest(stopElection(s, out), c, out);
  }
  if (r.aborting) return beginRound(s, now, c, out);
  switch (event.outcome) {
    case 'aborted':
      // The election moved on without this reducer hearing of it first: follow the current role.
      return beginRound(s, now, c, out);
    case 'silent': {
      s = s.lost.includes(r.representativeId) ? s : { ...s, lost: [...s.lost, r.representativeId] };
      if (s.roleSeq !== r.roleSeq) return beginRound(s, now, c, out);
      const atMs = now + roleWaitMs(c);
      out.push({ type: 'schedule', timer: 'role-wait-over', atMs });
      return { ...s, phase: 'awaiting-role', roleWaitAtMs: atMs };
    }
    case 'closed':
    case 'failed':
      return repairRest(stopElection(s, out), c, out);
  }
}

/** After the session: peers (when allowed), then the origin, for exactly the blocks still missing. */
function repairRest(s: LanSessionState, c: LanSessionContext, out: LanSessionEffect[]): LanSessionState {
  // An issue already noted (a session deadline) says more than "incomplete".
  if (s.issue === null && s.heldCount < c.blocks) {
    s = noteIssue(s, { kind: 'session-incomplete', missing: c.blocks - s.heldCount, peersAllowed: c.peerDownloadAllowed }, out);
  }
  return fetchOutsideRole(s, 'repairing', c.peerDownloadAllowed ? ['session-peers', 'origin'] : ['origin'], out);
}

function fetchOutsideRole(s: LanSessionState, phase: 'origin-only' | 'repairing', sources: FetchSource[], out: LanSessionEffect[]): LanSessionState {
  const id = s.nextRoundId;
  out.push({ type: 'fetch', round: id, sources });
  return { ...s, phase, nextRoundId: id + 1, round: { kind: 'fetch', id } };
}

function stopElection(s: LanSessionState, out: LanSessionEffect[]): LanSessionState {
  if (s.electionStopped) return s;
  out.push({ type: 'stop-election' });
  return { ...s, electionStopped: true };
}

function finish(s: LanSessionState, out: LanSessionEffect[]): LanSessionState {
  s = stopElection(s, out);
  out.push({ type: 'finish', role: s.firstRole ?? { role: 'fallback', reason: 'no-representative' } });
  return { ...s, phase: 'done', round: null };
}

function fail(s: LanSessionState, error: unknown, out: LanSessionEffect[]): LanSessionState {
  s = stopElection(s, out);
  out.push({ type: 'fail', error });
  return { ...s, phase: 'failed', round: null };
}

function noteIssue(s: LanSessionState, issue: SessionIssue, out: LanSessionEffect[]): LanSessionState {
  out.push({ type: 'report-issue', issue });
  return { ...s, issue };
}

function stopSenderOf(s: LanSessionState, out: LanSessionEffect[]): void {
  if (s.round?.kind === 'represent') out.push({ type: 'stop-sender' });
}

function cancelAll(s: LanSessionState, out: LanSessionEffect[]): void {
  if (s.firstRoleDueAtMs !== null) out.push({ type: 'cancel', timer: 'first-role-due' });
  if (s.roleWaitAtMs !== null) out.push({ type: 'cancel', timer: 'role-wait-over' });
  const r = s.round;
  if (r?.kind === 'represent') {
    if (r.startDueAtMs !== null) out.push({ type: 'cancel', timer: 'start-due' });
    if (!r.graceOver) out.push({ type: 'cancel', timer: 'grace-over' });
  }
  if (r?.kind === 'follow') out.push({ type: 'cancel', timer: 'deadline-passed' });
}

function sendHoldings(blocks: number[], c: LanSessionContext, out: LanSessionEffect[]): void {
  if (c.servesPeers && blocks.length > 0) out.push({ type: 'send-holdings', blocks });
}

function allJoined(s: LanSessionState, r: RepresentRound): boolean {
  return r.targets.length > 0 && r.targets.every((id) => s.joined.includes(id));
}

function heldList(s: LanSessionState): number[] {
  const held: number[] = [];
  for (let i = 0; i < s.held.length; i++) if (s.held[i] === 1) held.push(i);
  return held;
}

function allBlocks(c: LanSessionContext): number[] {
  return Array.from({ length: c.blocks }, (_, i) => i);
}

function deadlineOptions(c: LanSessionContext): FollowDeadlineOptions {
  return { startDelayMs: c.startDelayMs, stallMs: c.stallMs, rateKbps: c.rateKbps, blockSize: c.blockSize };
}

function unchanged(state: LanSessionState): LanSessionResult {
  return { state, effects: [] };
}
