import type { AnnouncePacket, ClaimPacket, DiscoverPacket, Packet } from '../protocol/packets';

/**
 * Election of a task's representative on a subnet, as a pure reducer
 * `(state, event, now) -> { state, effects }`. One instance per device per task; the adapter feeds it
 * the session's decoded packets and its one timer, and carries out the effects.
 *
 *   idle --start--> discovering --(window ends, best known)--> claiming --(claim window ends)--> representative
 *   discovering --(window ends, a better device is known)--> waiting --(it never acts)--> claiming
 *   discovering | claiming | waiting | fallen-back --ANNOUNCE--> following
 *   claiming --(a better CLAIM)--> waiting
 *   following --(representative silent for N keep-alives)--> discovering (a new round)
 *   representative --(ANNOUNCE of a better representative)--> following
 *   weight 0: discovering --> waiting --(no ANNOUNCE ever)--> fallen-back --ANNOUNCE--> following
 *   any --stop--> stopped (the task is done or cancelled: no more packets or timers)
 *
 * Rules:
 * - A device DISCOVERs with what it would claim with (weight, blocks held), so that when every device
 *   gets the task in the same millisecond they all learn the ranking during the discovery window and
 *   only the best-ranked one claims.
 * - Claims rank by higher weight, then more blocks held (a successor that already holds most of the
 *   content fetches least), then the lower sender ID. Every device compares the values carried in
 *   the CLAIM packets, so all that heard the same claims pick the same winner in any order.
 * - An established representative is never displaced by a claim, whatever its weight: it answers
 *   with an ANNOUNCE and the claimant follows. Stability is worth more than a better device that
 *   came late (the representative may already hold WAN bytes the others wait for).
 * - Two representatives that hear each other (a lost CLAIM, a healed partition) resolve by weight,
 *   then the lower sender ID; blocks held do not count there, as they change while the two compare.
 *   The loser steps down and follows; followers switch the same way, so one representative remains.
 * - A follower that misses `missedKeepAlives` keep-alives starts a new round; blocks already received
 *   stay where they are, and the new representative's ANNOUNCE says what it holds.
 * - A weight-0 device never claims: it waits, follows whoever announces, and after
 *   `noRepresentativeTimeoutMs` without one emits `fallback('no-representative')` (peers, then the
 *   origin), still following a representative that turns up later.
 * - Packets from this device itself (multicast loopback) are ignored; a timer that is not the pending
 *   one (stale, or early) changes nothing, so the adapter needs no timer bookkeeping.
 */

export type ElectionPhase = 'idle' | 'discovering' | 'claiming' | 'waiting' | 'representative' | 'following' | 'fallen-back' | 'stopped';

/** A device heard in the current round. */
export interface Candidate {
  weight: number;
  blocksHeld: number;
  /** It sent a CLAIM (not only a DISCOVER) in this round. */
  claimed: boolean;
}

/** Plain JSON, so the agent can persist it as-is. */
export interface ElectionState {
  selfId: string;
  weight: number;
  /** Verified blocks this device holds; sent in DISCOVER and CLAIM. */
  blocksHeld: number;
  phase: ElectionPhase;
  /** When the current round began (the no-representative deadline counts from it). */
  roundStartMs: number | null;
  /** Devices heard in this round by sender ID. */
  candidates: Record<string, Candidate>;
  /** What this device claimed with in this round; a re-sent CLAIM repeats exactly these values. */
  claim: { weight: number; blocksHeld: number } | null;
  /** The representative followed, or this device itself. */
  representative: { id: string; weight: number } | null;
  /** Last time the followed representative was heard from. */
  lastHeardMs: number | null;
  /** The one pending timer; a `timer` event means "this deadline passed". */
  deadlineMs: number | null;
  lastAnnounceMs: number | null;
  lastClaimMs: number | null;
}

export type ElectionEvent =
  /** The task arrived with multicast on. */
  | { type: 'start' }
  /**
   * The session is over for this device (task done, cancelled, or the representative closed it).
   * Without it, followers of a representative that stops announcing at the end would elect another.
   */
  | { type: 'stop' }
  | { type: 'discover'; from: string; weight: number; blocksHeld: number }
  | { type: 'claim'; from: string; weight: number; blocksHeld: number }
  | { type: 'announce'; from: string; weight: number }
  /** Any other packet of the session from `from` (DATA, PARITY): a representative that sends is alive. */
  | { type: 'alive'; from: string }
  /** This device's verified block count changed. */
  | { type: 'blocks-held'; count: number }
  /** The timer of the last `schedule` effect fired. */
  | { type: 'timer' };

/** What to send; the session layer fills an ANNOUNCE with its content and progress fields. */
export type ElectionMessage = { type: 'discover' | 'claim'; weight: number; blocksHeld: number } | { type: 'announce' };

export type ElectionEffect =
  | { type: 'send'; message: ElectionMessage }
  /** Set the election's one timer to `atMs`, replacing any pending one. */
  | { type: 'schedule'; atMs: number }
  | { type: 'become-representative' }
  | { type: 'follow'; representativeId: string }
  | { type: 'fallback'; reason: 'no-representative' }
  /** A phase change, for the agent's log and the task summary. */
  | { type: 'report'; from: ElectionPhase; to: ElectionPhase; reason: string };

export interface ElectionResult {
  state: ElectionState;
  effects: ElectionEffect[];
}

export interface ElectionOptions {
  discoveryWindowMs: number;
  claimWindowMs: number;
  keepAliveIntervalMs: number;
  missedKeepAlives: number;
  noRepresentativeTimeoutMs: number;
  answerHoldoffMs: number;
}

/**
 * Defaults, resolved once (see `resolveElectionOptions`).
 * - Discovery 2.5 s: two and a half keep-alive intervals, so a device hears an existing session's
 *   periodic ANNOUNCE even when one is lost (and the representative answers the DISCOVER at once);
 *   small next to the 60 s default session start delay.
 * - Claim window 0.5 s: a LAN delivers in well under a millisecond; the rest covers a busy event
 *   loop (a GC pause, a disk flush) on a loaded device, so claims made together all arrive within it.
 * - Keep-alive 1 s: about 100 bytes a second per session, and it sets how fast a failure is noticed.
 * - 4 missed keep-alives: at 5 % loss four in a row are lost with p = 6e-6 per check, so a lossy LAN
 *   does not trigger elections, and a dead representative is replaced in about 4 + 2.5 + 0.5 = 7 s.
 * - No representative after 15 s: six discovery windows, time for claimants that lost their first
 *   round to claim again, before a weight-0 device gives up on multicast for peers and the origin.
 * - Answer hold-off 200 ms: when a thousand devices DISCOVER in the same millisecond, the
 *   representative answers with one ANNOUNCE, not a thousand.
 */
export const DEFAULT_ELECTION_OPTIONS: ElectionOptions = {
  discoveryWindowMs: 2_500,
  claimWindowMs: 500,
  keepAliveIntervalMs: 1_000,
  missedKeepAlives: 4,
  noRepresentativeTimeoutMs: 15_000,
  answerHoldoffMs: 200,
};

export function resolveElectionOptions(partial: Partial<ElectionOptions> = {}): ElectionOptions {
  const options = { ...DEFAULT_ELECTION_OPTIONS, ...partial };
  for (const [name, value] of Object.entries(options)) {
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`election option ${name} must be a non-negative number, got ${value}`);
  }
  if (!Number.isInteger(options.missedKeepAlives) || options.missedKeepAlives < 1) {
    throw new RangeError(`missedKeepAlives must be a positive integer, got ${options.missedKeepAlives}`);
  }
  return options;
}

export function newElection(selfId: string, weight: number, blocksHeld = 0): ElectionState {
  if (!Number.isInteger(weight) || weight < 0 || weight > 255) throw new RangeError(`weight must be 0..255, got ${weight}`);
  return {
    selfId,
    weight,
    blocksHeld,
    phase: 'idle',
    roundStartMs: null,
    candidates: {},
    claim: null,
    representative: null,
    lastHeardMs: null,
    deadlineMs: null,
    lastAnnounceMs: null,
    lastClaimMs: null,
  };
}

interface Ranked {
  id: string;
  weight: number;
  blocksHeld: number;
}

/** Claim order: higher weight, then more blocks held, then the lower sender ID. */
export function claimBeats(a: Ranked, b: Ranked): boolean {
  if (a.weight !== b.weight) return a.weight > b.weight;
  if (a.blocksHeld !== b.blocksHeld) return a.blocksHeld > b.blocksHeld;
  return a.id < b.id;
}

/** Order of two representatives that meet: higher weight, then the lower sender ID. */
export function representativeBeats(a: { id: string; weight: number }, b: { id: string; weight: number }): boolean {
  if (a.weight !== b.weight) return a.weight > b.weight;
  return a.id < b.id;
}

/** The election event of a decoded packet of the session, or null for packets the election does not read. */
export function electionEventOf(packet: Packet): ElectionEvent | null {
  switch (packet.type) {
    case 'discover':
    case 'claim': {
      const p = packet as DiscoverPacket | ClaimPacket;
      return { type: p.type, from: p.senderId, weight: p.weight, blocksHeld: p.blocksHeld };
    }
    case 'announce': {
      const p = packet as AnnouncePacket;
      return { type: 'announce', from: p.senderId, weight: p.weight };
    }
    case 'data':
    case 'parity':
      return { type: 'alive', from: packet.senderId };
    default:
      return null;
  }
}

export function reduceElection(
  state: ElectionState,
  event: ElectionEvent,
  now: number,
  options: ElectionOptions = DEFAULT_ELECTION_OPTIONS,
): ElectionResult {
  if ('from' in event && event.from === state.selfId) return unchanged(state);
  if (state.phase === 'stopped') return unchanged(state);
  if (state.phase === 'idle' && event.type !== 'start' && event.type !== 'blocks-held') return unchanged(state);

  switch (event.type) {
    case 'start':
      return state.phase === 'idle' ? beginRound(state, now, options, 'task started') : unchanged(state);

    case 'stop':
      return transition(state, { phase: 'stopped', deadlineMs: null }, 'session over', []);

    case 'blocks-held':
      return { state: { ...state, blocksHeld: event.count }, effects: [] };

    case 'discover': {
      const next = withCandidate(state, event.from, { weight: event.weight, blocksHeld: event.blocksHeld, claimed: state.candidates[event.from]?.claimed ?? false });
      return state.phase === 'representative' ? answerWithAnnounce(next, now, options) : { state: next, effects: [] };
    }

    case 'claim':
      return onClaim(withCandidate(state, event.from, { weight: event.weight, blocksHeld: event.blocksHeld, claimed: true }), event, now, options);

    case 'announce':
      return onAnnounce(state, event, now, options);

    case 'alive':
      if (state.phase === 'following' && state.representative?.id === event.from) return { state: { ...state, lastHeardMs: now }, effects: [] };
      return unchanged(state);

    case 'timer':
      if (state.deadlineMs === null || now < state.deadlineMs) return unchanged(state);
      return onDeadline(state, now, options);
  }
}

function onClaim(state: ElectionState, event: { from: string; weight: number; blocksHeld: number }, now: number, options: ElectionOptions): ElectionResult {
  const them: Ranked = { id: event.from, weight: event.weight, blocksHeld: event.blocksHeld };
  switch (state.phase) {
    case 'representative':
      // Established: not displaced. The ANNOUNCE tells the claimant whom to follow.
      return answerWithAnnounce(state, now, options);
    case 'claiming': {
      const mine: Ranked = { id: state.selfId, ...(state.claim as { weight: number; blocksHeld: number }) };
      if (claimBeats(them, mine)) {
        // It becomes representative when its claim window ends; allow one keep-alive for a lost first ANNOUNCE.
        const deadlineMs = now + options.claimWindowMs + options.keepAliveIntervalMs;
        return transition(state, { phase: 'waiting', deadlineMs }, `claim of ${event.from} beats ours`, [{ type: 'schedule', atMs: deadlineMs }]);
      }
      // Ours wins. Say so again in case the other side lost our CLAIM, at most once per hold-off.
      if (state.lastClaimMs !== null && now - state.lastClaimMs < options.answerHoldoffMs) return unchanged(state);
      return { state: { ...state, lastClaimMs: now }, effects: [{ type: 'send', message: { type: 'claim', ...(state.claim as { weight: number; blocksHeld: number }) } }] };
    }
    case 'waiting': {
      if (state.weight === 0 || !claimBeats(them, self(state))) return unchanged(state);
      const deadlineMs = Math.max(state.deadlineMs ?? 0, now + options.claimWindowMs + options.keepAliveIntervalMs);
      return { state: { ...state, deadlineMs }, effects: deadlineMs === state.deadlineMs ? [] : [{ type: 'schedule', atMs: deadlineMs }] };
    }
    default:
      // Discovering: the claim counts when the window ends. Following: the representative answers.
      return unchanged(state);
  }
}

function onAnnounce(state: ElectionState, event: { from: string; weight: number }, now: number, options: ElectionOptions): ElectionResult {
  const them = { id: event.from, weight: event.weight };
  switch (state.phase) {
    case 'representative':
      if (representativeBeats(them, { id: state.selfId, weight: state.weight })) {
        return follow(state, them, now, options, `stepped down for representative ${event.from}`);
      }
      return answerWithAnnounce(state, now, options);
    case 'following': {
      const current = state.representative as { id: string; weight: number };
      if (current.id === event.from) return { state: { ...state, lastHeardMs: now, representative: them }, effects: [] };
      if (representativeBeats(them, current)) return follow(state, them, now, options, `representative ${event.from} outranks ${current.id}`);
      return unchanged(state);
    }
    default:
      return follow(state, them, now, options, `announce from ${event.from}`);
  }
}

function onDeadline(state: ElectionState, now: number, options: ElectionOptions): ElectionResult {
  switch (state.phase) {
    case 'discovering':
      return decide(state, now, options, 'discovery window ended');
    case 'waiting': {
      if (state.weight === 0) {
        return transition(state, { phase: 'fallen-back', deadlineMs: null }, 'no representative announced', [{ type: 'fallback', reason: 'no-representative' }]);
      }
      // The better devices had their chance and did not announce: forget them and decide again.
      const me = self(state);
      const candidates: Record<string, Candidate> = {};
      for (const [id, c] of Object.entries(state.candidates)) if (!claimBeats({ id, ...c }, me)) candidates[id] = c;
      return decide({ ...state, candidates }, now, options, 'no better device announced');
    }
    case 'claiming':
      return transition(
        state,
        { phase: 'representative', representative: { id: state.selfId, weight: state.weight }, lastAnnounceMs: now, deadlineMs: now + options.keepAliveIntervalMs },
        'claim window ended unbeaten',
        [{ type: 'become-representative' }, { type: 'send', message: { type: 'announce' } }, { type: 'schedule', atMs: now + options.keepAliveIntervalMs }],
      );
    case 'representative':
      return {
        state: { ...state, lastAnnounceMs: now, deadlineMs: now + options.keepAliveIntervalMs },
        effects: [{ type: 'send', message: { type: 'announce' } }, { type: 'schedule', atMs: now + options.keepAliveIntervalMs }],
      };
    case 'following': {
      const limit = options.missedKeepAlives * options.keepAliveIntervalMs;
      const last = state.lastHeardMs ?? now;
      if (now - last >= limit) {
        return beginRound(state, now, options, `representative ${state.representative?.id} silent for ${now - last} ms`);
      }
      return { state: { ...state, deadlineMs: last + limit }, effects: [{ type: 'schedule', atMs: last + limit }] };
    }
    default:
      return unchanged(state);
  }
}

/** End of a discovery window or a wait: claim if no better device is known, else wait for it. */
function decide(state: ElectionState, now: number, options: ElectionOptions, reason: string): ElectionResult {
  if (state.weight === 0) {
    const deadlineMs = (state.roundStartMs ?? now) + options.noRepresentativeTimeoutMs;
    if (now >= deadlineMs) {
      return transition(state, { phase: 'fallen-back', deadlineMs: null }, `${reason}; weight 0 never claims`, [{ type: 'fallback', reason: 'no-representative' }]);
    }
    return transition(state, { phase: 'waiting', deadlineMs }, `${reason}; weight 0 never claims`, [{ type: 'schedule', atMs: deadlineMs }]);
  }
  const me = self(state);
  const better = Object.entries(state.candidates).find(([id, c]) => claimBeats({ id, ...c }, me));
  if (better !== undefined) {
    // Time for it to end its own discovery window and claim window.
    const deadlineMs = now + options.discoveryWindowMs + options.claimWindowMs;
    return transition(state, { phase: 'waiting', deadlineMs }, `${reason}; ${better[0]} ranks higher`, [{ type: 'schedule', atMs: deadlineMs }]);
  }
  const claim = { weight: state.weight, blocksHeld: state.blocksHeld };
  const deadlineMs = now + options.claimWindowMs;
  return transition(state, { phase: 'claiming', claim, lastClaimMs: now, deadlineMs }, `${reason}; no better device known`, [
    { type: 'send', message: { type: 'claim', ...claim } },
    { type: 'schedule', atMs: deadlineMs },
  ]);
}

function beginRound(state: ElectionState, now: number, options: ElectionOptions, reason: string): ElectionResult {
  const deadlineMs = now + options.discoveryWindowMs;
  return transition(
    state,
    { phase: 'discovering', roundStartMs: now, candidates: {}, claim: null, representative: null, lastHeardMs: null, deadlineMs },
    reason,
    [
      { type: 'send', message: { type: 'discover', weight: state.weight, blocksHeld: state.blocksHeld } },
      { type: 'schedule', atMs: deadlineMs },
    ],
  );
}

function follow(state: ElectionState, representative: { id: string; weight: number }, now: number, options: ElectionOptions, reason: string): ElectionResult {
  const deadlineMs = now + options.missedKeepAlives * options.keepAliveIntervalMs;
  return transition(state, { phase: 'following', representative, lastHeardMs: now, deadlineMs, claim: null }, reason, [
    { type: 'follow', representativeId: representative.id },
    { type: 'schedule', atMs: deadlineMs },
  ]);
}

function answerWithAnnounce(state: ElectionState, now: number, options: ElectionOptions): ElectionResult {
  if (state.lastAnnounceMs !== null && now - state.lastAnnounceMs < options.answerHoldoffMs) return unchanged(state);
  return { state: { ...state, lastAnnounceMs: now }, effects: [{ type: 'send', message: { type: 'announce' } }] };
}

function transition(state: ElectionState, changes: Partial<ElectionState>, reason: string, effects: ElectionEffect[]): ElectionResult {
  const next = { ...state, ...changes };
  return { state: next, effects: [...effects, { type: 'report', from: state.phase, to: next.phase, reason }] };
}

function withCandidate(state: ElectionState, id: string, candidate: Candidate): ElectionState {
  return { ...state, candidates: { ...state.candidates, [id]: candidate } };
}

function self(state: ElectionState): Ranked {
  return { id: state.selfId, weight: state.weight, blocksHeld: state.blocksHeld };
}

function unchanged(state: ElectionState): ElectionResult {
  return { state, effects: [] };
}
