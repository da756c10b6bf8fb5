import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ErrorCode } from '@fleetcast/contracts';
import { AllocationEffect, AllocationRules, AllocationState, decideAssign, decideInstall, decideRelease, graceUntil, SeatLicense } from './seat-allocation';

const DAY = 86_400_000;
const now = new Date('2026-03-10T12:00:00.000Z');
const daysFromNow = (days: number) => new Date(now.getTime() + days * DAY);
const license: SeatLicense = { licenseId: 'lic-1', customer: 'Example Corp', seats: 3, expiresAt: daysFromNow(100) };
const allow: AllocationRules = { policy: 'allow', graceDays: 30 };
const refuse: AllocationRules = { policy: 'refuse', graceDays: 30 };

const state = (used: number, overageSince: Date | null = null, lic: SeatLicense | null = license): AllocationState => ({ license: lic, used, overageSince });
const take: AllocationEffect = { type: 'take-seat', deviceId: 'dev-9' };

describe('decideAssign', () => {
  const cases: Array<{
    name: string;
    state: AllocationState;
    holdsSeat?: boolean;
    rules: AllocationRules;
    expect: 'already-held' | { refused: string; message?: RegExp } | { used: number; effects: string[] };
  }> = [
    { name: 'a device that holds a seat keeps it, even over the limit', state: state(5, daysFromNow(-40)), holdsSeat: true, rules: refuse, expect: 'already-held' },
    { name: 'a device that holds a seat keeps it after expiry', state: state(2, null, { ...license, expiresAt: daysFromNow(-1) }), holdsSeat: true, rules: allow, expect: 'already-held' },
    { name: 'a device that holds a seat keeps it without a license', state: state(1, null, null), holdsSeat: true, rules: allow, expect: 'already-held' },
    { name: 'no license: refused', state: state(0, null, null), rules: allow, expect: { refused: ErrorCode.NoLicense, message: /no license is installed/ } },
    {
      name: 'an expired license: refused, naming what still works',
      state: state(0, null, { ...license, expiresAt: daysFromNow(-1) }),
      rules: allow,
      expect: { refused: ErrorCode.LicenseExpired, message: /lic-1 of Example Corp expired at .*enrolled devices keep their seats/ },
    },
    { name: 'expiry is exclusive: refused at the very millisecond', state: state(0, null, { ...license, expiresAt: now }), rules: allow, expect: { refused: ErrorCode.LicenseExpired } },
    { name: 'the first seat', state: state(0), rules: refuse, expect: { used: 1, effects: ['take-seat'] } },
    { name: 'the last seat bought', state: state(2), rules: refuse, expect: { used: 3, effects: ['take-seat'] } },
    {
      name: 'refuse: one beyond the seats bought, with the numbers a person needs',
      state: state(3),
      rules: refuse,
      expect: { refused: ErrorCode.NoSeatAvailable, message: /^no seat available for device dev-9: license lic-1 of Example Corp has 3 seats and 3 are in use; release the seats/ },
    },
    { name: 'refuse: already over (a smaller license installed), still refused', state: state(5, daysFromNow(-1)), rules: refuse, expect: { refused: ErrorCode.NoSeatAvailable } },
    { name: 'allow: crossing the limit gives the seat and starts the overage', state: state(3), rules: allow, expect: { used: 4, effects: ['take-seat', 'overage-started'] } },
    { name: 'allow: further seats during the grace period, announced no more', state: state(4, daysFromNow(-29)), rules: allow, expect: { used: 5, effects: ['take-seat'] } },
    {
      name: 'allow: refused once the grace period has ended',
      state: state(4, daysFromNow(-30)),
      rules: allow,
      expect: { refused: ErrorCode.NoSeatAvailable, message: /has 3 seats and 4 are in use, over the limit since .* 30-day grace period for over-allocation ended at/ },
    },
    { name: 'allow with no grace at all: refused like refuse', state: state(3), rules: { policy: 'allow', graceDays: 0 }, expect: { refused: ErrorCode.NoSeatAvailable } },
    { name: 'a stale overage clock within the limit is stopped', state: state(1, daysFromNow(-3)), rules: allow, expect: { used: 2, effects: ['take-seat', 'overage-ended'] } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const decision = decideAssign(c.state, { deviceId: 'dev-9', holdsSeat: c.holdsSeat ?? false }, c.rules, now);
      if (c.expect === 'already-held') return assert.deepEqual(decision, { outcome: 'already-held' });
      if ('refused' in c.expect) {
        assert.equal(decision.outcome, 'refused', JSON.stringify(decision));
        if (decision.outcome !== 'refused') return;
        assert.equal(decision.code, c.expect.refused);
        if (c.expect.message) assert.match(decision.message, c.expect.message);
        return;
      }
      assert.equal(decision.outcome, 'assigned', JSON.stringify(decision));
      if (decision.outcome !== 'assigned') return;
      assert.equal(decision.used, c.expect.used);
      assert.deepEqual(decision.effects.map((e) => e.type), c.expect.effects);
      assert.deepEqual(decision.effects[0], take);
    });
  }

  it('announces the crossing with the numbers, the device and the end of the grace period', () => {
    const decision = decideAssign(state(3), { deviceId: 'dev-9', holdsSeat: false }, allow, now);
    assert.equal(decision.outcome, 'assigned');
    if (decision.outcome !== 'assigned') return;
    assert.deepEqual(decision.effects[1], {
      type: 'overage-started',
      since: now,
      event: {
        licenseId: 'lic-1',
        customer: 'Example Corp',
        seats: 3,
        used: 4,
        over: 1,
        policy: 'allow',
        deviceId: 'dev-9',
        graceUntil: '2026-04-09T12:00:00.000Z',
        occurredAt: '2026-03-10T12:00:00.000Z',
      },
    });
  });

  it('announces exactly one crossing over a run of assignments, and a new one after falling back', () => {
    let s = state(0);
    const announced: string[] = [];
    const apply = (effects: AllocationEffect[], used: number) => {
      let overageSince = s.overageSince;
      for (const e of effects) {
        if (e.type === 'overage-started') {
          overageSince = e.since;
          announced.push(`${e.event.used}/${e.event.seats}`);
        }
        if (e.type === 'overage-ended') overageSince = null;
      }
      s = { ...s, used, overageSince };
    };
    for (let i = 0; i < 6; i++) {
      const d = decideAssign(s, { deviceId: `d${i}`, holdsSeat: false }, allow, now);
      assert.equal(d.outcome, 'assigned');
      if (d.outcome === 'assigned') apply(d.effects, d.used);
    }
    assert.deepEqual(announced, ['4/3']);
    for (let i = 0; i < 3; i++) {
      const r = decideRelease(s, { deviceId: `d${i}`, holdsSeat: true, reason: 'retired' });
      assert.equal(r.released, true);
      if (r.released) apply(r.effects, r.used);
    }
    assert.equal(s.overageSince, null, 'back at 3 of 3');
    const d = decideAssign(s, { deviceId: 'again', holdsSeat: false }, allow, now);
    if (d.outcome === 'assigned') apply(d.effects, d.used);
    assert.deepEqual(announced, ['4/3', '4/3']);
  });
});

describe('decideRelease', () => {
  const cases: Array<{ name: string; state: AllocationState; holdsSeat: boolean; expect: false | { used: number; effects: string[] } }> = [
    { name: 'a device without a seat: nothing to do', state: state(2), holdsSeat: false, expect: false },
    { name: 'within the limit', state: state(2), holdsSeat: true, expect: { used: 1, effects: ['give-back-seat'] } },
    { name: 'still over the limit: the overage clock keeps running', state: state(5, daysFromNow(-2)), holdsSeat: true, expect: { used: 4, effects: ['give-back-seat'] } },
    { name: 'back at the limit: the overage ends', state: state(4, daysFromNow(-2)), holdsSeat: true, expect: { used: 3, effects: ['give-back-seat', 'overage-ended'] } },
    { name: 'without a license the overage ends', state: state(4, daysFromNow(-2), null), holdsSeat: true, expect: { used: 3, effects: ['give-back-seat', 'overage-ended'] } },
    { name: 'after expiry seats can still be given back', state: state(2, null, { ...license, expiresAt: daysFromNow(-5) }), holdsSeat: true, expect: { used: 1, effects: ['give-back-seat'] } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const decision = decideRelease(c.state, { deviceId: 'dev-1', holdsSeat: c.holdsSeat, reason: 'stale' });
      if (c.expect === false) return assert.deepEqual(decision, { released: false });
      assert.equal(decision.released, true);
      if (!decision.released) return;
      assert.equal(decision.used, c.expect.used);
      assert.deepEqual(decision.effects.map((e) => e.type), c.expect.effects);
      assert.deepEqual(decision.effects[0], { type: 'give-back-seat', deviceId: 'dev-1', reason: 'stale' });
    });
  }
});

describe('decideInstall', () => {
  const smaller: SeatLicense = { ...license, licenseId: 'lic-2', seats: 2 };
  const cases: Array<{ name: string; state: AllocationState; rules: AllocationRules; expect: string[]; graceUntil?: string | null }> = [
    { name: 'enough seats, nothing running', state: state(2), rules: allow, expect: [] },
    { name: 'fewer seats than in use: a crossing, with a grace period under allow', state: state(3), rules: allow, expect: ['overage-started'], graceUntil: '2026-04-09T12:00:00.000Z' },
    { name: 'fewer seats than in use under refuse: a crossing without grace', state: state(3), rules: refuse, expect: ['overage-started'], graceUntil: null },
    { name: 'still too small: the earlier crossing keeps its clock', state: state(5, daysFromNow(-10)), rules: allow, expect: [] },
    { name: 'enough seats again: the overage ends', state: state(2, daysFromNow(-10)), rules: allow, expect: ['overage-ended'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const effects = decideInstall(c.state, smaller, c.rules, now);
      assert.deepEqual(effects.map((e) => e.type), c.expect);
      const started = effects.find((e) => e.type === 'overage-started');
      if (started?.type === 'overage-started') {
        assert.equal(started.event.deviceId, null, 'no device crossed: the license did');
        assert.equal(started.event.over, c.state.used - 2);
        assert.equal(started.event.graceUntil, c.graceUntil);
      }
    });
  }
});

describe('graceUntil', () => {
  it('is the crossing plus the grace days under allow, and none under refuse or within the limit', () => {
    assert.deepEqual(graceUntil(now, allow), daysFromNow(30));
    assert.equal(graceUntil(now, refuse), null);
    assert.equal(graceUntil(null, allow), null);
  });
});
