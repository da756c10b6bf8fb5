import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_ELECTION_OPTIONS,
  ElectionEffect,
  ElectionEvent,
  ElectionPhase,
  ElectionState,
  claimBeats,
  electionEventOf,
  newElection,
  reduceElection,
  resolveElectionOptions,
} from './election';
import { seededRandom, shuffled } from './seeded-random';

const O = DEFAULT_ELECTION_OPTIONS;
const A = '00000000000000aa';
const B = '00000000000000bb';
const C = '00000000000000cc';

/** Runs events through the reducer from a state; returns the last state and every effect. */
function run(state: ElectionState, steps: Array<[ElectionEvent, number]>): { state: ElectionState; effects: ElectionEffect[] } {
  const effects: ElectionEffect[] = [];
  for (const [event, now] of steps) {
    const result = reduceElection(state, event, now);
    state = result.state;
    effects.push(...result.effects);
  }
  return { state, effects };
}

const withoutReports = (effects: ElectionEffect[]) => effects.filter((e) => e.type !== 'report');

/** A device brought to a phase by the ordinary path. */
function inPhase(phase: ElectionPhase, weight = 10, blocksHeld = 0): ElectionState {
  const start = newElection(A, weight, blocksHeld);
  const steps: Record<string, Array<[ElectionEvent, number]>> = {
    idle: [],
    discovering: [[{ type: 'start' }, 0]],
    claiming: [[{ type: 'start' }, 0], [{ type: 'timer' }, 2500]],
    representative: [[{ type: 'start' }, 0], [{ type: 'timer' }, 2500], [{ type: 'timer' }, 3000]],
    following: [[{ type: 'start' }, 0], [{ type: 'announce', from: B, weight: 5 }, 100]],
    waiting: [[{ type: 'start' }, 0], [{ type: 'discover', from: B, weight: 200, blocksHeld: 0 }, 10], [{ type: 'timer' }, 2500]],
  };
  const { state } = run(start, steps[phase]);
  assert.equal(state.phase, phase);
  return state;
}

test('one device alone: DISCOVER, nobody answers, CLAIM, nobody objects, representative', () => {
  let r = reduceElection(newElection(A, 10, 3), { type: 'start' }, 1000);
  assert.equal(r.state.phase, 'discovering');
  assert.deepEqual(withoutReports(r.effects), [
    { type: 'send', message: { type: 'discover', weight: 10, blocksHeld: 3 } },
    { type: 'schedule', atMs: 3500 },
  ]);
  r = reduceElection(r.state, { type: 'timer' }, 3499);
  assert.deepEqual(r.effects, [], 'an early timer changes nothing');
  r = reduceElection(r.state, { type: 'timer' }, 3500);
  assert.equal(r.state.phase, 'claiming');
  assert.deepEqual(withoutReports(r.effects), [
    { type: 'send', message: { type: 'claim', weight: 10, blocksHeld: 3 } },
    { type: 'schedule', atMs: 4000 },
  ]);
  r = reduceElection(r.state, { type: 'timer' }, 4000);
  assert.equal(r.state.phase, 'representative');
  assert.deepEqual(r.effects, [
    { type: 'become-representative' },
    { type: 'send', message: { type: 'announce' } },
    { type: 'schedule', atMs: 5000 },
    { type: 'report', from: 'claiming', to: 'representative', reason: 'claim window ended unbeaten' },
  ]);
  r = reduceElection(r.state, { type: 'timer' }, 5000);
  assert.deepEqual(r.effects, [{ type: 'send', message: { type: 'announce' } }, { type: 'schedule', atMs: 6000 }], 'keep-alive');
});

interface Row {
  name: string;
  from: ElectionState;
  event: ElectionEvent;
  now: number;
  phase: ElectionPhase;
  effects: ElectionEffect[];
}

const TRANSITIONS: Row[] = [
  {
    name: 'discovering hears an ANNOUNCE: follows it',
    from: inPhase('discovering'),
    event: { type: 'announce', from: B, weight: 1 },
    now: 50,
    phase: 'following',
    effects: [{ type: 'follow', representativeId: B }, { type: 'schedule', atMs: 4050 }],
  },
  {
    name: 'claiming hears a better CLAIM: waits for its ANNOUNCE',
    from: inPhase('claiming'),
    event: { type: 'claim', from: B, weight: 11, blocksHeld: 0 },
    now: 2600,
    phase: 'waiting',
    effects: [{ type: 'schedule', atMs: 2600 + 500 + 1000 }],
  },
  {
    name: 'claiming hears an equal-weight CLAIM holding more blocks: it wins the tie',
    from: inPhase('claiming', 10, 5),
    event: { type: 'claim', from: B, weight: 10, blocksHeld: 6 },
    now: 2600,
    phase: 'waiting',
    effects: [{ type: 'schedule', atMs: 4100 }],
  },
  {
    name: 'claiming hears a worse CLAIM past the hold-off: says its own again',
    from: inPhase('claiming'),
    event: { type: 'claim', from: B, weight: 9, blocksHeld: 100 },
    now: 2800,
    phase: 'claiming',
    effects: [{ type: 'send', message: { type: 'claim', weight: 10, blocksHeld: 0 } }],
  },
  {
    name: 'claiming hears a worse CLAIM within the hold-off: nothing more to say',
    from: inPhase('claiming'),
    event: { type: 'claim', from: B, weight: 9, blocksHeld: 0 },
    now: 2550,
    phase: 'claiming',
    effects: [],
  },
  {
    name: 'claiming hears an ANNOUNCE: someone already is representative',
    from: inPhase('claiming'),
    event: { type: 'announce', from: B, weight: 1 },
    now: 2700,
    phase: 'following',
    effects: [{ type: 'follow', representativeId: B }, { type: 'schedule', atMs: 6700 }],
  },
  {
    name: 'representative hears a late CLAIM of lower weight: answers with ANNOUNCE, stays',
    from: inPhase('representative'),
    event: { type: 'claim', from: B, weight: 1, blocksHeld: 0 },
    now: 3500,
    phase: 'representative',
    effects: [{ type: 'send', message: { type: 'announce' } }],
  },
  {
    name: 'representative hears a late CLAIM of higher weight: not displaced either',
    from: inPhase('representative'),
    event: { type: 'claim', from: B, weight: 255, blocksHeld: 999 },
    now: 3500,
    phase: 'representative',
    effects: [{ type: 'send', message: { type: 'announce' } }],
  },
  {
    name: 'representative hears a DISCOVER within the answer hold-off: one ANNOUNCE serves both',
    from: inPhase('representative'),
    event: { type: 'discover', from: B, weight: 1, blocksHeld: 0 },
    now: 3100,
    phase: 'representative',
    effects: [],
  },
  {
    name: 'representative meets a better representative: steps down and follows it',
    from: inPhase('representative'),
    event: { type: 'announce', from: B, weight: 11 },
    now: 3500,
    phase: 'following',
    effects: [{ type: 'follow', representativeId: B }, { type: 'schedule', atMs: 7500 }],
  },
  {
    name: 'representative meets a worse representative: announces so that the other steps down',
    from: inPhase('representative'),
    event: { type: 'announce', from: B, weight: 10 },
    now: 3500,
    phase: 'representative',
    effects: [{ type: 'send', message: { type: 'announce' } }],
  },
  {
    name: 'following hears a CLAIM: ignores it (the representative answers)',
    from: inPhase('following'),
    event: { type: 'claim', from: C, weight: 200, blocksHeld: 0 },
    now: 500,
    phase: 'following',
    effects: [],
  },
  {
    name: 'following hears a better representative: switches to it',
    from: inPhase('following'),
    event: { type: 'announce', from: C, weight: 6 },
    now: 500,
    phase: 'following',
    effects: [{ type: 'follow', representativeId: C }, { type: 'schedule', atMs: 4500 }],
  },
  {
    name: 'following hears a worse representative: stays',
    from: inPhase('following'),
    event: { type: 'announce', from: C, weight: 4 },
    now: 500,
    phase: 'following',
    effects: [],
  },
  {
    name: 'following: representative silent for 4 keep-alives: a new round',
    from: inPhase('following'),
    event: { type: 'timer' },
    now: 4100,
    phase: 'discovering',
    effects: [
      { type: 'send', message: { type: 'discover', weight: 10, blocksHeld: 0 } },
      { type: 'schedule', atMs: 6600 },
    ],
  },
  {
    name: 'following: the watchdog fires but DATA arrived lately: look again later',
    from: run(inPhase('following'), [[{ type: 'alive', from: B }, 3000]]).state,
    event: { type: 'timer' },
    now: 4100,
    phase: 'following',
    effects: [{ type: 'schedule', atMs: 7000 }],
  },
  {
    name: 'waiting for a better device that never claims: claims itself',
    from: inPhase('waiting'),
    event: { type: 'timer' },
    now: 5500,
    phase: 'claiming',
    effects: [
      { type: 'send', message: { type: 'claim', weight: 10, blocksHeld: 0 } },
      { type: 'schedule', atMs: 6000 },
    ],
  },
  {
    name: 'a packet from itself (multicast loopback) is ignored',
    from: inPhase('claiming'),
    event: { type: 'claim', from: A, weight: 255, blocksHeld: 0 },
    now: 2600,
    phase: 'claiming',
    effects: [],
  },
  {
    name: 'a stale timer (no deadline reached) is ignored',
    from: inPhase('representative'),
    event: { type: 'timer' },
    now: 3200,
    phase: 'representative',
    effects: [],
  },
  {
    name: 'a second start is ignored',
    from: inPhase('claiming'),
    event: { type: 'start' },
    now: 2600,
    phase: 'claiming',
    effects: [],
  },
  {
    name: 'stop ends the election: no keep-alive, no new round',
    from: inPhase('following'),
    event: { type: 'stop' },
    now: 500,
    phase: 'stopped',
    effects: [],
  },
  {
    name: 'a stopped election ignores everything, its old timer included',
    from: run(inPhase('following'), [[{ type: 'stop' }, 500]]).state,
    event: { type: 'timer' },
    now: 60_000,
    phase: 'stopped',
    effects: [],
  },
  {
    name: 'packets before the task started are ignored',
    from: inPhase('idle'),
    event: { type: 'announce', from: B, weight: 1 },
    now: 0,
    phase: 'idle',
    effects: [],
  },
];

test('transitions (table)', () => {
  for (const row of TRANSITIONS) {
    const result = reduceElection(row.from, row.event, row.now);
    assert.equal(result.state.phase, row.phase, row.name);
    assert.deepEqual(withoutReports(result.effects), row.effects, row.name);
    const reports = result.effects.filter((e) => e.type === 'report');
    const changed = row.phase !== row.from.phase || result.state.representative?.id !== row.from.representative?.id;
    assert.equal(reports.length, changed ? 1 : 0, `${row.name}: one report per change of phase or representative`);
  }
});

test('weight 0 alone: never claims, falls back after the no-representative timeout, follows a late ANNOUNCE', () => {
  let { state, effects } = run(newElection(A, 0), [
    [{ type: 'start' }, 0],
    [{ type: 'claim', from: B, weight: 3, blocksHeld: 0 }, 100],
    [{ type: 'timer' }, 2500],
  ]);
  assert.equal(state.phase, 'waiting');
  assert.ok(!effects.some((e) => e.type === 'send' && e.message.type === 'claim'));
  assert.deepEqual(effects.filter((e) => e.type === 'schedule').at(-1), { type: 'schedule', atMs: 15_000 });
  ({ state, effects } = run(state, [[{ type: 'timer' }, 15_000]]));
  assert.equal(state.phase, 'fallen-back');
  assert.deepEqual(withoutReports(effects), [{ type: 'fallback', reason: 'no-representative' }]);
  ({ state, effects } = run(state, [[{ type: 'announce', from: C, weight: 7 }, 20_000]]));
  assert.equal(state.phase, 'following');
  assert.deepEqual(withoutReports(effects)[0], { type: 'follow', representativeId: C });
});

test('claim order: weight, then blocks held, then the lower sender ID', () => {
  assert.ok(claimBeats({ id: B, weight: 2, blocksHeld: 0 }, { id: A, weight: 1, blocksHeld: 50 }));
  assert.ok(claimBeats({ id: B, weight: 1, blocksHeld: 51 }, { id: A, weight: 1, blocksHeld: 50 }));
  assert.ok(claimBeats({ id: A, weight: 1, blocksHeld: 50 }, { id: B, weight: 1, blocksHeld: 50 }));
  assert.ok(!claimBeats({ id: A, weight: 1, blocksHeld: 50 }, { id: A, weight: 1, blocksHeld: 50 }), 'strict');
  assert.throws(() => newElection(A, 256), RangeError);
  assert.throws(() => resolveElectionOptions({ missedKeepAlives: 0 }), RangeError);
});

test('electionEventOf maps decoded packets; JOIN and NACK are not the election\'s', () => {
  const h = { sessionId: '0123456789abcdef', senderId: B };
  assert.deepEqual(electionEventOf({ ...h, type: 'claim', weight: 3, blocksHeld: 4 }), { type: 'claim', from: B, weight: 3, blocksHeld: 4 });
  assert.deepEqual(electionEventOf({ ...h, type: 'data', block: 0, group: 0, index: 0, payload: new Uint8Array(1) }), { type: 'alive', from: B });
  assert.equal(electionEventOf({ ...h, type: 'join', blocksHeld: 0 }), null);
});

// ---------------------------------------------------------------------------------------------
// Many devices: a small discrete-event network. Every send goes to every other live device after
// a random delay, each copy lost with probability `loss`; timers fire at their deadlines.

interface Device {
  id: string;
  state: ElectionState;
  alive: boolean;
  timerAt: number | null;
  sent: Record<string, number>;
  fallbacks: number;
}

interface SimOptions {
  seed: number;
  devices: Array<{ weight: number; blocksHeld?: number; startMs?: number }>;
  loss?: number;
  maxDelayMs?: number;
  untilMs: number;
  /** Called at each step's time, before the step; may kill devices or change their blocks. */
  onTime?: (now: number, devices: Device[]) => void;
  /** Drop every DISCOVER (as if all crossed on the wire): forces everybody into CLAIM. */
  dropDiscover?: boolean;
}

function idOf(i: number): string {
  // Shuffled so that the ID order is unrelated to the device index.
  return ((i * 0x9e3779b1) >>> 0).toString(16).padStart(16, '0');
}

function simulate(options: SimOptions): Device[] {
  const random = seededRandom(options.seed);
  const devices: Device[] = options.devices.map((d, i) => ({
    id: idOf(i),
    state: newElection(idOf(i), d.weight, d.blocksHeld ?? 0),
    alive: true,
    timerAt: null,
    sent: {},
    fallbacks: 0,
  }));
  type Item = { at: number; seq: number; to: number; event: ElectionEvent; timer?: boolean };
  const queue: Item[] = [];
  let seq = 0;
  const push = (item: Omit<Item, 'seq'>) => {
    queue.push({ ...item, seq: seq++ });
  };
  options.devices.forEach((d, i) => push({ at: d.startMs ?? 0, to: i, event: { type: 'start' } }));
  const checkpoints = new Set<number>();

  const apply = (i: number, event: ElectionEvent, now: number) => {
    const device = devices[i];
    const result = reduceElection(device.state, event, now);
    device.state = result.state;
    for (const effect of result.effects) {
      if (effect.type === 'schedule') {
        device.timerAt = effect.atMs;
        push({ at: effect.atMs, to: i, event: { type: 'timer' }, timer: true });
      } else if (effect.type === 'fallback') {
        device.fallbacks++;
      } else if (effect.type === 'send') {
        const m = effect.message;
        device.sent[m.type] = (device.sent[m.type] ?? 0) + 1;
        if (m.type === 'discover' && options.dropDiscover) continue;
        const event: ElectionEvent = m.type === 'announce' ? { type: 'announce', from: device.id, weight: device.state.weight } : { type: m.type, from: device.id, weight: m.weight, blocksHeld: m.blocksHeld };
        devices.forEach((_, j) => {
          if (j === i || random() < (options.loss ?? 0)) return;
          push({ at: now + random() * (options.maxDelayMs ?? 3), to: j, event });
        });
      }
    }
  };

  while (queue.length > 0) {
    queue.sort((a, b) => a.at - b.at || a.seq - b.seq);
    const item = queue.shift() as Item;
    if (item.at > options.untilMs) break;
    const second = Math.floor(item.at / 1000);
    if (options.onTime && !checkpoints.has(second)) {
      checkpoints.add(second);
      options.onTime(second * 1000, devices);
    }
    const device = devices[item.to];
    if (!device.alive) continue;
    // A replaced timer never fires: the adapter keeps one timer per election.
    if (item.timer && device.timerAt !== item.at) continue;
    apply(item.to, item.event, item.at);
  }
  return devices;
}

function assertOneRepresentative(devices: Device[], label: string): Device {
  const live = devices.filter((d) => d.alive);
  const representatives = live.filter((d) => d.state.phase === 'representative');
  assert.equal(representatives.length, 1, `${label}: representatives ${representatives.map((d) => d.id)}; phases ${live.map((d) => d.state.phase)}`);
  const [representative] = representatives;
  for (const d of live) {
    if (d === representative) continue;
    assert.equal(d.state.phase, 'following', `${label}: ${d.id} is ${d.state.phase}`);
    assert.equal(d.state.representative?.id, representative.id, `${label}: ${d.id} follows ${d.state.representative?.id}`);
  }
  return representative;
}

/** The expected winner, computed independently of the reducer: sort by the claim order. */
function bestOf(devices: Device[], blocks: (d: Device) => number = (d) => d.state.blocksHeld): Device {
  return [...devices]
    .filter((d) => d.alive && d.state.weight > 0)
    .sort((a, b) => b.state.weight - a.state.weight || blocks(b) - blocks(a) || (a.id < b.id ? -1 : 1))[0];
}

test('12 devices CLAIM in the same millisecond, claims delivered in any order: one winner, the same at every device', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const random = seededRandom(seed);
    const ids = Array.from({ length: 12 }, (_, i) => idOf(i));
    // Few distinct weights and block counts, so that every tie-break level is exercised.
    let states = ids.map((id) => newElection(id, 1 + Math.floor(random() * 3), Math.floor(random() * 3)));
    // Every DISCOVER crossed on the wire: each device ends its window knowing no one and claims.
    states = states.map((s) => run(s, [[{ type: 'start' }, 0], [{ type: 'timer' }, 2500]]).state);
    assert.ok(states.every((s) => s.phase === 'claiming'));
    const claims = states.map((s) => ({ type: 'claim' as const, from: s.selfId, weight: s.weight, blocksHeld: s.blocksHeld }));
    const resent: number[] = ids.map(() => 0);
    states = states.map((s, i) => {
      const others = shuffled(
        claims.filter((c) => c.from !== s.selfId),
        random,
      );
      let now = 2500;
      for (const claim of others) {
        const r = reduceElection(s, claim, (now += random() * 2));
        s = r.state;
        resent[i] += r.effects.filter((e) => e.type === 'send').length;
      }
      return s;
    });
    const winners = states.filter((s) => s.phase === 'claiming');
    const expected = [...states].sort((a, b) => b.weight - a.weight || b.blocksHeld - a.blocksHeld || (a.selfId < b.selfId ? -1 : 1))[0];
    assert.deepEqual(
      winners.map((s) => s.selfId),
      [expected.selfId],
      `seed ${seed}`,
    );
    assert.deepEqual(resent, ids.map(() => 0), 'claims that cross within the hold-off are not repeated');
    // Claim windows end in any order; then the winner's ANNOUNCE reaches everybody.
    const order = shuffled([...states.keys()], random);
    for (const i of order) states[i] = reduceElection(states[i], { type: 'timer' }, 3000).state;
    for (let i = 0; i < states.length; i++) {
      if (states[i].selfId === expected.selfId) continue;
      states[i] = reduceElection(states[i], { type: 'announce', from: expected.selfId, weight: expected.weight }, 3001).state;
    }
    assert.deepEqual(
      states.map((s) => (s.selfId === expected.selfId ? s.phase : s.representative?.id)),
      states.map((s) => (s.selfId === expected.selfId ? 'representative' : expected.selfId)),
      `seed ${seed}`,
    );
  }
});

test('12 devices get the task in the same millisecond over a network: exactly one representative (random delays, with and without loss)', () => {
  for (const loss of [0, 0.1]) {
    for (let seed = 1; seed <= 60; seed++) {
      const random = seededRandom(1000 + seed);
      const devices = Array.from({ length: 12 }, () => ({ weight: 1 + Math.floor(random() * 2), blocksHeld: Math.floor(random() * 2) }));
      const result = simulate({ seed, devices, loss, untilMs: 12_000 });
      const representative = assertOneRepresentative(result, `loss ${loss} seed ${seed}`);
      if (loss === 0) {
        assert.equal(representative.id, bestOf(result).id, `seed ${seed}: the best-ranked device wins`);
        // Everyone heard everyone's DISCOVER, so only the best claimed.
        assert.equal(result.reduce((n, d) => n + (d.sent.claim ?? 0), 0), 1, `seed ${seed}: one CLAIM in all`);
      }
    }
  }
});

test('every DISCOVER lost, so all 12 claim at once over a network: still exactly one representative', () => {
  for (let seed = 1; seed <= 60; seed++) {
    const devices = Array.from({ length: 12 }, (_, i) => ({ weight: 1 + (i % 3) }));
    const result = simulate({ seed, devices, untilMs: 12_000, dropDiscover: true });
    const representative = assertOneRepresentative(result, `seed ${seed}`);
    assert.equal(representative.id, bestOf(result).id);
    assert.ok(result.filter((d) => (d.sent.claim ?? 0) > 0).length > 1, 'many claimed');
  }
});

test('weight 0 everywhere: nobody claims, every device falls back once', () => {
  const result = simulate({ seed: 7, devices: Array.from({ length: 8 }, () => ({ weight: 0 })), untilMs: 30_000 });
  assert.ok(result.every((d) => (d.sent.claim ?? 0) === 0));
  assert.ok(result.every((d) => d.state.phase === 'fallen-back' && d.fallbacks === 1));
});

test('weight 0 devices beside one claimant follow it and never fall back', () => {
  const devices = [...Array.from({ length: 6 }, () => ({ weight: 0 })), { weight: 1 }];
  const result = simulate({ seed: 3, devices, untilMs: 30_000 });
  assertOneRepresentative(result, 'mixed');
  assert.equal(result[6].state.phase, 'representative');
  assert.ok(result.every((d) => d.fallbacks === 0));
});

test('the representative dies: the others elect the best survivor (most blocks among the heaviest) and follow it', () => {
  for (let seed = 1; seed <= 20; seed++) {
    let firstRepresentative: Device | null = null;
    const devices = Array.from({ length: 10 }, (_, i) => ({ weight: i < 5 ? 2 : 1 }));
    const result = simulate({
      seed,
      devices,
      loss: 0.02,
      untilMs: 30_000,
      onTime(now, all) {
        if (now === 6000) {
          firstRepresentative = all.find((d) => d.state.phase === 'representative') ?? null;
          assert.ok(firstRepresentative, `seed ${seed}: a representative by 6 s`);
          // What the multicast delivered by now: followers differ in how much they hold (late joiners, losses).
          all.forEach((d, i) => {
            if (d !== firstRepresentative) d.state = reduceElection(d.state, { type: 'blocks-held', count: 40 + ((i * 7 + seed) % 5) }, now).state;
          });
        }
        if (now === 10_000 && firstRepresentative) firstRepresentative.alive = false;
      },
    });
    const successor = assertOneRepresentative(result, `seed ${seed}`);
    assert.notEqual(successor, firstRepresentative);
    assert.equal(successor.id, bestOf(result).id, `seed ${seed}: the successor is the best-ranked survivor`);
    assert.equal(successor.state.weight, 2);
  }
});

test('a device that gets the task late follows the representative, even with a higher weight; a raw late CLAIM does not take over', () => {
  const devices = [{ weight: 5 }, { weight: 5 }, { weight: 5 }, { weight: 1, startMs: 8_000 }, { weight: 200, startMs: 9_000 }];
  const result = simulate({ seed: 4, devices, untilMs: 20_000 });
  const representative = assertOneRepresentative(result, 'late joiners');
  assert.equal(representative.id, bestOf(result.slice(0, 3)).id);
  assert.equal(result[3].sent.claim ?? 0, 0, 'the late device never claimed: the ANNOUNCE answered its DISCOVER');
  assert.equal(result[4].sent.claim ?? 0, 0);

  // A lower-weight device that skips discovery and claims outright (lost ANNOUNCEs, or an older agent).
  let rep = representative.state;
  const r = reduceElection(rep, { type: 'claim', from: result[3].id, weight: 1, blocksHeld: 999 }, 20_500);
  rep = r.state;
  assert.equal(rep.phase, 'representative');
  assert.deepEqual(r.effects, [{ type: 'send', message: { type: 'announce' } }]);
  let claimant = run(newElection(result[3].id, 1), [[{ type: 'start' }, 20_000], [{ type: 'timer' }, 22_500]]).state;
  assert.equal(claimant.phase, 'claiming');
  claimant = reduceElection(claimant, { type: 'announce', from: representative.id, weight: 5 }, 22_501).state;
  assert.equal(claimant.phase, 'following');
  assert.equal(claimant.representative?.id, representative.id);
  const follower = result.find((d) => d.state.phase === 'following') as Device;
  assert.deepEqual(reduceElection(follower.state, { type: 'claim', from: result[3].id, weight: 1, blocksHeld: 0 }, 20_500).effects, []);
});

test('two representatives that meet (a healed partition): the lower one steps down and its followers switch', () => {
  const partitioned = simulate({ seed: 9, devices: [{ weight: 3 }, { weight: 1 }], untilMs: 6_000, loss: 1 });
  assert.ok(partitioned.every((d) => d.state.phase === 'representative'), 'two sides that cannot hear each other each elect one');
  let [high, low] = partitioned.map((d) => d.state);
  let follower = run(newElection(C, 1), [[{ type: 'start' }, 0], [{ type: 'announce', from: low.selfId, weight: 1 }, 10]]).state;
  // The partition heals: each representative's next keep-alive reaches the other side.
  let r = reduceElection(low, { type: 'announce', from: high.selfId, weight: 3 }, 6_100);
  low = r.state;
  assert.equal(low.phase, 'following');
  assert.equal(low.representative?.id, high.selfId);
  r = reduceElection(high, { type: 'announce', from: partitioned[1].id, weight: 1 }, 6_100);
  high = r.state;
  assert.equal(high.phase, 'representative');
  follower = reduceElection(follower, { type: 'announce', from: high.selfId, weight: 3 }, 6_101).state;
  assert.equal(follower.representative?.id, high.selfId);
  assert.equal(O.missedKeepAlives, 4);
});
