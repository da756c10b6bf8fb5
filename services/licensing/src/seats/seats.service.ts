import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { LicenseOverage, LicensingRpc, RpcResponse, SeatReleaseReason } from '@fleetcast/contracts';
import { LOGGER, METRICS } from '@fleetcast/service-kit';
import { counter, gauge, Logger, Registry } from '@fleetcast/telemetry';
import { LICENSING_CONFIG, LicensingConfig } from '../config/licensing.config';
import { LicenseRow, LicensesRepository } from '../license/licenses.repository';
import { LicensingOutbox } from '../outbox/licensing-outbox.service';
import { AllocationEffect, AllocationRules, AllocationState, decideAssign, decideInstall, decideRelease, SeatLicense } from './seat-allocation';
import { SeatRefusedError } from './seats.exception';
import { SeatRow, SeatsRepository } from './seats.repository';

/** A device's seat, as `assign` answers. */
export interface SeatAssignment {
  deviceId: string;
  /** The license active when the seat was given. */
  licenseId: string;
  assignedAt: Date;
  /** False when the device already held the seat: the call changed nothing. */
  newlyAssigned: boolean;
  /** Seats held once the call is done. */
  used: number;
  /** Seats bought (0 without a license). */
  seats: number;
  /** Seats held exceed seats bought: over-allocation under the `allow` policy's grace period. */
  overLimit: boolean;
}

export interface SeatCallOptions {
  /**
   * Run inside the caller's transaction (as a savepoint), so that the seat commits or rolls back
   * with the caller's own writes. The allocation lock is then held until the caller's transaction
   * ends: keep it short. Without it the call runs in a transaction of its own.
   */
  manager?: EntityManager;
}

/**
 * Seats: one per enrolled device. `assign` and `release` are what the enrolment calls in-process;
 * both take the allocation lock, decide with the pure rules of `seat-allocation.ts`, and carry out
 * the effects in the same transaction: seat rows, the overage clock, the `license.overage` event
 * in the outbox, a warning and the metrics.
 */
@Injectable()
export class SeatsService {
  private readonly rules: AllocationRules;
  private readonly seatsGauge;
  private readonly overages;
  private readonly refusals;
  private readonly assigned;
  private readonly released;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly seats: SeatsRepository,
    private readonly licenses: LicensesRepository,
    private readonly outbox: LicensingOutbox,
    @Inject(LICENSING_CONFIG) config: Pick<LicensingConfig, 'LICENSE_OVERAGE_POLICY' | 'LICENSE_OVERAGE_GRACE_DAYS'>,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS) metrics: Registry,
  ) {
    this.rules = { policy: config.LICENSE_OVERAGE_POLICY, graceDays: config.LICENSE_OVERAGE_GRACE_DAYS };
    this.seatsGauge = gauge(metrics, 'fleetcast_license_seats', 'Seats of the active license: bought, used (held by devices) and over (used beyond bought)', ['kind']);
    this.overages = counter(metrics, 'fleetcast_license_overages_total', 'Times seats in use crossed above the seats bought (each announced by one license.overage event)');
    this.refusals = counter(metrics, 'fleetcast_license_seat_refusals_total', 'Seats refused, by error code', ['code']);
    this.assigned = counter(metrics, 'fleetcast_license_seats_assigned_total', 'Seats given to devices');
    this.released = counter(metrics, 'fleetcast_license_seats_released_total', 'Seats given back, by reason', ['reason']);
  }

  get policy(): AllocationRules {
    return this.rules;
  }

  /**
   * Gives the device a seat, or returns the one it holds (idempotent: a device enrolled again needs
   * no second seat, even after the license expired). Throws SeatRefusedError with
   * LICENSING.NO_LICENSE, LICENSING.LICENSE_EXPIRED or LICENSING.NO_SEAT_AVAILABLE.
   */
  async assign(deviceId: string, options: SeatCallOptions = {}): Promise<SeatAssignment> {
    const now = new Date();
    const { result, published } = await this.inTransaction(options, async (m) => {
      const allocation = await this.seats.lockAllocation(m);
      const license = await this.licenses.active(m);
      const held = await this.seats.find(m, deviceId);
      const state: AllocationState = { license: seatLicenseOf(license), used: await this.seats.countHeld(m), overageSince: allocation.overageSince };
      const decision = decideAssign(state, { deviceId, holdsSeat: held !== null && held.releasedAt === null }, this.rules, now);
      switch (decision.outcome) {
        case 'already-held':
          return { result: assignmentOf(held!, false, state.used, license), published: false };
        case 'refused':
          this.refusals.inc({ code: decision.code });
          this.logger.info({ deviceId, code: decision.code, used: state.used, seats: license?.seats ?? 0 }, 'seat refused');
          throw new SeatRefusedError(decision.code as SeatRefusedError['code'], decision.message);
        case 'assigned': {
          const seat = await this.apply(m, decision.effects, now, license!);
          this.assigned.inc();
          this.updateGauge(license, decision.used);
          return { result: assignmentOf(seat!, true, decision.used, license), published: hasEvent(decision.effects) };
        }
      }
    });
    if (published && !options.manager) this.outbox.kick();
    return result;
  }

  /** Gives the device's seat back; false when it held none (idempotent). Works whatever the license's state. */
  async release(deviceId: string, reason: SeatReleaseReason, options: SeatCallOptions = {}): Promise<boolean> {
    const now = new Date();
    return this.inTransaction(options, async (m) => {
      const allocation = await this.seats.lockAllocation(m);
      const license = await this.licenses.active(m);
      const held = await this.seats.find(m, deviceId);
      const state: AllocationState = { license: seatLicenseOf(license), used: await this.seats.countHeld(m), overageSince: allocation.overageSince };
      const decision = decideRelease(state, { deviceId, holdsSeat: held !== null && held.releasedAt === null, reason });
      if (!decision.released) return false;
      await this.apply(m, decision.effects, now, license);
      this.released.inc({ reason });
      this.updateGauge(license, decision.used);
      this.logger.info({ deviceId, reason, used: decision.used }, 'seat released');
      return true;
    });
  }

  /** Runs `work` holding the allocation lock, in the caller's transaction: what a license install does first. */
  async withAllocationLock<T>(manager: EntityManager, work: () => Promise<T>): Promise<T> {
    await this.seats.lockAllocation(manager);
    return work();
  }

  /**
   * The seat side of installing a license, inside the install's transaction and under the
   * allocation lock (`withAllocationLock`): the overage rules for the new seat count. Returns
   * whether an event was enqueued.
   */
  async applyLicense(manager: EntityManager, license: LicenseRow, now: Date): Promise<boolean> {
    const allocation = await this.seats.allocation(manager);
    const used = await this.seats.countHeld(manager);
    const effects = decideInstall({ license: seatLicenseOf(license), used, overageSince: allocation.overageSince }, seatLicenseOf(license)!, this.rules, now);
    await this.apply(manager, effects, now, license);
    this.updateGauge(license, used);
    return hasEvent(effects);
  }

  /** Seats held and the overage clock, as they stand (no lock: for reading only). */
  async usage(): Promise<{ used: number; overageSince: Date | null }> {
    const [used, allocation] = await Promise.all([this.seats.countHeld(), this.seats.allocation()]);
    return { used, overageSince: allocation.overageSince };
  }

  async list(request: { limit: number; offset: number; includeReleased: boolean }): Promise<RpcResponse<typeof LicensingRpc.listSeats>> {
    const { rows, total } = await this.seats.list(request, request.includeReleased);
    return {
      items: rows.map((row) => ({
        deviceId: row.deviceId,
        licenseId: row.licenseId,
        assignedAt: row.assignedAt.toISOString(),
        releasedAt: row.releasedAt?.toISOString() ?? null,
        releaseReason: row.releaseReason,
      })),
      total,
    };
  }

  /** Sets the seat gauges (the periodic check calls it too, so that every instance reports the same). */
  updateGauge(license: Pick<LicenseRow, 'seats'> | null, used: number): void {
    const bought = license?.seats ?? 0;
    this.seatsGauge.set({ kind: 'bought' }, bought);
    this.seatsGauge.set({ kind: 'used' }, used);
    this.seatsGauge.set({ kind: 'over' }, Math.max(0, used - bought));
  }

  /** Carries out the decided effects in the transaction; returns the seat taken, if one was. */
  private async apply(m: EntityManager, effects: AllocationEffect[], now: Date, license: LicenseRow | null): Promise<SeatRow | undefined> {
    let seat: SeatRow | undefined;
    for (const effect of effects) {
      switch (effect.type) {
        case 'take-seat':
          seat = await this.seats.take(m, effect.deviceId, license!.licenseId, now);
          break;
        case 'give-back-seat':
          await this.seats.giveBack(m, effect.deviceId, effect.reason, now);
          break;
        case 'overage-started':
          await this.seats.setOverageSince(m, effect.since);
          await this.outbox.enqueue(m, [{ subject: LicenseOverage.subject(), payload: LicenseOverage.schema.parse(effect.event) }]);
          this.overages.inc();
          this.logger.warn(
            { ...effect.event },
            `license overage: ${effect.event.used} seats in use for ${effect.event.seats} bought` +
              (effect.event.graceUntil ? `; over-allocation allowed until ${effect.event.graceUntil}` : '; further seats are refused'),
          );
          break;
        case 'overage-ended':
          await this.seats.setOverageSince(m, null);
          this.logger.info({ licenseId: license?.licenseId ?? null }, 'license overage ended: seats in use are within the seats bought again');
          break;
      }
    }
    return seat;
  }

  private inTransaction<T>(options: SeatCallOptions, work: (manager: EntityManager) => Promise<T>): Promise<T> {
    // On the caller's manager this is a savepoint: a refusal rolls back only what this call did.
    return (options.manager ?? this.dataSource.manager).transaction(work);
  }
}

function seatLicenseOf(license: LicenseRow | null): SeatLicense | null {
  return license && { licenseId: license.licenseId, customer: license.customer, seats: license.seats, expiresAt: license.expiresAt };
}

function hasEvent(effects: AllocationEffect[]): boolean {
  return effects.some((effect) => effect.type === 'overage-started');
}

function assignmentOf(seat: SeatRow, newlyAssigned: boolean, used: number, license: LicenseRow | null): SeatAssignment {
  const seats = license?.seats ?? 0;
  return { deviceId: seat.deviceId, licenseId: seat.licenseId, assignedAt: seat.assignedAt, newlyAssigned, used, seats, overLimit: used > seats };
}
