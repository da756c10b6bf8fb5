import { ErrorCode, LicenseOverageV1, OveragePolicy, SeatReleaseReason } from '@fleetcast/contracts';

/**
 * The seat rules as pure functions: what the state is, what is asked, what to do. The caller reads
 * the state under a lock, calls a decision function, and carries out the effects it returns in the
 * same transaction (seat rows, the overage clock, the outbox event, a log line and a metric).
 */

const DAY_MS = 86_400_000;

/** The installed license, as far as seats are concerned. */
export interface SeatLicense {
  licenseId: string;
  customer: string;
  seats: number;
  expiresAt: Date;
}

export interface AllocationState {
  /** The active license; null when none was ever installed. */
  license: SeatLicense | null;
  /** Seats held now, before the request. */
  used: number;
  /**
   * When seats in use first went above the seats bought, or null while within the limit: the start of
   * the grace period, and the mark that the crossing was already announced.
   */
  overageSince: Date | null;
}

export interface AllocationRules {
  policy: OveragePolicy;
  graceDays: number;
}

export type AllocationEffect =
  | { type: 'take-seat'; deviceId: string }
  | { type: 'give-back-seat'; deviceId: string; reason: SeatReleaseReason }
  /** Seats in use crossed above the seats bought: start the overage clock and announce it once. */
  | { type: 'overage-started'; since: Date; event: LicenseOverageV1 }
  /** Back within the limit: the next crossing is a new one, with a grace period of its own. */
  | { type: 'overage-ended' };

export type AssignDecision =
  | { outcome: 'already-held' }
  | { outcome: 'refused'; code: ErrorCode; message: string }
  | { outcome: 'assigned'; used: number; effects: AllocationEffect[] };

export type ReleaseDecision = { released: false } | { released: true; used: number; effects: AllocationEffect[] };

/** When over-allocation stops being allowed: only the `allow` policy grants a grace period, counted from the crossing. */
export function graceUntil(overageSince: Date | null, rules: AllocationRules): Date | null {
  if (overageSince === null || rules.policy !== 'allow') return null;
  return new Date(overageSince.getTime() + rules.graceDays * DAY_MS);
}

/**
 * A seat for one device. A device that holds a seat keeps it whatever the license says (the call
 * is idempotent, and re-enrolling a device never needs a second seat). Otherwise: no license, or an
 * expired one, gives nothing; within the seats bought a seat is given; beyond them the policy
 * decides: `refuse` gives nothing, `allow` gives the seat during the grace period that the crossing
 * starts, and announces the crossing once.
 */
export function decideAssign(state: AllocationState, request: { deviceId: string; holdsSeat: boolean }, rules: AllocationRules, now: Date): AssignDecision {
  if (request.holdsSeat) return { outcome: 'already-held' };
  const license = state.license;
  if (license === null) {
    return { outcome: 'refused', code: ErrorCode.NoLicense, message: 'no license is installed: install one (PUT /v1/license) before enrolling devices' };
  }
  if (now.getTime() >= license.expiresAt.getTime()) {
    return {
      outcome: 'refused',
      code: ErrorCode.LicenseExpired,
      message:
        `license ${license.licenseId} of ${license.customer} expired at ${license.expiresAt.toISOString()}: ` +
        'enrolled devices keep their seats, new devices need a renewed license (PUT /v1/license)',
    };
  }
  const used = state.used + 1;
  const take: AllocationEffect = { type: 'take-seat', deviceId: request.deviceId };
  if (used <= license.seats) {
    // An overage clock left running while within the limit (an earlier release that crossed back) is stopped.
    return { outcome: 'assigned', used, effects: state.overageSince === null ? [take] : [take, { type: 'overage-ended' }] };
  }
  const bought = `license ${license.licenseId} of ${license.customer} has ${license.seats} seat${license.seats === 1 ? '' : 's'} and ${state.used} are in use`;
  const remedy = 'release the seats of retired devices or install a license with more seats (PUT /v1/license)';
  if (rules.policy === 'refuse') {
    return { outcome: 'refused', code: ErrorCode.NoSeatAvailable, message: `no seat available for device ${request.deviceId}: ${bought}; ${remedy}` };
  }
  const since = state.overageSince ?? now;
  const until = graceUntil(since, rules)!;
  if (now.getTime() >= until.getTime()) {
    return {
      outcome: 'refused',
      code: ErrorCode.NoSeatAvailable,
      message:
        `no seat available for device ${request.deviceId}: ${bought}, over the limit since ${since.toISOString()}, and the ` +
        `${rules.graceDays}-day grace period for over-allocation ended at ${until.toISOString()}; ${remedy}`,
    };
  }
  if (state.overageSince !== null) return { outcome: 'assigned', used, effects: [take] };
  return {
    outcome: 'assigned',
    used,
    effects: [take, { type: 'overage-started', since: now, event: overageEvent(license, used, rules, request.deviceId, now, until) }],
  };
}

/** Gives a device's seat back; a device without one is a no-op. Falling back within the limit stops the overage clock. */
export function decideRelease(state: AllocationState, request: { deviceId: string; holdsSeat: boolean; reason: SeatReleaseReason }): ReleaseDecision {
  if (!request.holdsSeat) return { released: false };
  const used = Math.max(0, state.used - 1);
  const effects: AllocationEffect[] = [{ type: 'give-back-seat', deviceId: request.deviceId, reason: request.reason }];
  if (state.overageSince !== null && (state.license === null || used <= state.license.seats)) effects.push({ type: 'overage-ended' });
  return { released: true, used, effects };
}

/**
 * A new license replaces the active one. Seats in use are kept whatever it grants: a license with
 * fewer seats than in use is a crossing too (announced once; the `allow` policy's grace starts), and
 * a license that is still too small keeps the clock of the earlier crossing, so that installing
 * license after license never restarts the grace period.
 */
export function decideInstall(state: AllocationState, license: SeatLicense, rules: AllocationRules, now: Date): AllocationEffect[] {
  const over = state.used > license.seats;
  if (over && state.overageSince === null) {
    return [{ type: 'overage-started', since: now, event: overageEvent(license, state.used, rules, null, now, graceUntil(now, rules)) }];
  }
  if (!over && state.overageSince !== null) return [{ type: 'overage-ended' }];
  return [];
}

function overageEvent(license: SeatLicense, used: number, rules: AllocationRules, deviceId: string | null, now: Date, until: Date | null): LicenseOverageV1 {
  return {
    licenseId: license.licenseId,
    customer: license.customer,
    seats: license.seats,
    used,
    over: used - license.seats,
    policy: rules.policy,
    deviceId,
    graceUntil: until?.toISOString() ?? null,
    occurredAt: now.toISOString(),
  };
}
