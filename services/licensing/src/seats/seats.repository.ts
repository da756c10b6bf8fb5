import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import type { SeatReleaseReason } from '@fleetcast/contracts';
import { queryRows } from '@fleetcast/persistence';

export interface SeatRow {
  deviceId: string;
  licenseId: string;
  assignedAt: Date;
  releasedAt: Date | null;
  releaseReason: SeatReleaseReason | null;
}

/** The allocation row: the overage clock, read under the lock that serialises every change of the seat count. */
export interface AllocationRow {
  overageSince: Date | null;
}

const SEAT_COLUMNS = `device_id AS "deviceId", license_id AS "licenseId", assigned_at AS "assignedAt", released_at AS "releasedAt", release_reason AS "releaseReason"`;

/** The only code of the licensing service that speaks SQL to `licensing.seats` and `licensing.allocation`. */
@Injectable()
export class SeatsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Locks the allocation row until the transaction ends: assignments, releases and license
   * installs take turns, so two of them never count the same free seat (the count below is read
   * after the lock). Enrolment is rare enough (devices a minute, not a millisecond) that one
   * queue costs nothing.
   */
  async lockAllocation(manager: EntityManager): Promise<AllocationRow> {
    const rows = await queryRows<AllocationRow>(manager, `SELECT overage_since AS "overageSince" FROM licensing.allocation WHERE id = 1 FOR UPDATE`);
    return rows[0]!;
  }

  async allocation(manager: EntityManager | DataSource = this.dataSource): Promise<AllocationRow> {
    const rows = await queryRows<AllocationRow>(manager, `SELECT overage_since AS "overageSince" FROM licensing.allocation WHERE id = 1`);
    return rows[0]!;
  }

  async setOverageSince(manager: EntityManager, since: Date | null): Promise<void> {
    await manager.query(`UPDATE licensing.allocation SET overage_since = $1 WHERE id = 1`, [since]);
  }

  async countHeld(manager: EntityManager | DataSource = this.dataSource): Promise<number> {
    const rows = await queryRows<{ n: number }>(manager, `SELECT count(*)::int AS n FROM licensing.seats WHERE released_at IS NULL`);
    return rows[0]!.n;
  }

  async find(manager: EntityManager, deviceId: string): Promise<SeatRow | null> {
    const rows = await queryRows<SeatRow>(manager, `SELECT ${SEAT_COLUMNS} FROM licensing.seats WHERE device_id = $1`, [deviceId]);
    return rows[0] ?? null;
  }

  /** Gives the device a seat, taking back the row of a seat it held before. */
  async take(manager: EntityManager, deviceId: string, licenseId: string, now: Date): Promise<SeatRow> {
    const rows = await queryRows<SeatRow>(
      manager,
      `INSERT INTO licensing.seats (device_id, license_id, assigned_at) VALUES ($1, $2, $3)
       ON CONFLICT (device_id) DO UPDATE SET license_id = EXCLUDED.license_id, assigned_at = EXCLUDED.assigned_at, released_at = NULL, release_reason = NULL
       RETURNING ${SEAT_COLUMNS}`,
      [deviceId, licenseId, now],
    );
    return rows[0]!;
  }

  async giveBack(manager: EntityManager, deviceId: string, reason: SeatReleaseReason, now: Date): Promise<void> {
    await manager.query(`UPDATE licensing.seats SET released_at = $2, release_reason = $3 WHERE device_id = $1 AND released_at IS NULL`, [deviceId, now, reason]);
  }

  async list(page: { limit: number; offset: number }, includeReleased: boolean): Promise<{ rows: SeatRow[]; total: number }> {
    const where = includeReleased ? '' : 'WHERE released_at IS NULL';
    const [rows, counted] = await Promise.all([
      queryRows<SeatRow>(this.dataSource, `SELECT ${SEAT_COLUMNS} FROM licensing.seats ${where} ORDER BY device_id LIMIT $1 OFFSET $2`, [page.limit, page.offset]),
      queryRows<{ total: number }>(this.dataSource, `SELECT count(*)::int AS total FROM licensing.seats ${where}`),
    ]);
    return { rows, total: counted[0]?.total ?? 0 };
  }

  /** Which of these devices hold a seat given before `before` (a seat younger than the staleness threshold is never stale). */
  async heldSince(deviceIds: readonly string[], before: Date): Promise<string[]> {
    if (deviceIds.length === 0) return [];
    const rows = await queryRows<{ deviceId: string }>(
      this.dataSource,
      `SELECT device_id AS "deviceId" FROM licensing.seats WHERE device_id = ANY($1::text[]) AND released_at IS NULL AND assigned_at < $2 ORDER BY device_id`,
      [deviceIds, before],
    );
    return rows.map((row) => row.deviceId);
  }

  /**
   * Claims the next stale-seat sweep: true for the one instance whose update finds the last sweep
   * at least `intervalMs` ago, so that instances started together do not sweep side by side.
   */
  async claimSweep(now: Date, intervalMs: number): Promise<boolean> {
    const rows = await queryRows(
      this.dataSource,
      `UPDATE licensing.allocation SET last_sweep_at = $1
       WHERE id = 1 AND (last_sweep_at IS NULL OR last_sweep_at <= $1::timestamptz - make_interval(secs => $2::double precision))
       RETURNING id`,
      [now, intervalMs / 1000],
    );
    return rows.length > 0;
  }
}
