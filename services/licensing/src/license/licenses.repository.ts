import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { queryRows } from '@fleetcast/persistence';
import type { LicensePayload } from './license-key';

/** A license as stored. */
export interface LicenseRow {
  licenseId: string;
  customer: string;
  seats: number;
  features: string[];
  issuedAt: Date;
  expiresAt: Date;
  installedAt: Date;
  expiringNotified: number[];
}

const LICENSE_COLUMNS = `
  license_id AS "licenseId", customer, seats, features, issued_at AS "issuedAt", expires_at AS "expiresAt",
  installed_at AS "installedAt", expiring_notified AS "expiringNotified"`;

/** The only code of the licensing service that speaks SQL to `licensing.licenses`. */
@Injectable()
export class LicensesRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  async ping(): Promise<void> {
    await this.dataSource.query('SELECT 1');
  }

  async active(manager: EntityManager | DataSource = this.dataSource): Promise<LicenseRow | null> {
    const rows = await queryRows<LicenseRow>(manager, `SELECT ${LICENSE_COLUMNS} FROM licensing.licenses WHERE active`);
    return rows[0] ?? null;
  }

  async known(manager: EntityManager, licenseId: string): Promise<boolean> {
    const rows = await queryRows(manager, `SELECT 1 FROM licensing.licenses WHERE license_id = $1`, [licenseId]);
    return rows.length > 0;
  }

  /**
   * Makes a license the active one: the previous one stays in the table, inactive. A license
   * installed before is activated again with what it had recorded (its expiry notices included).
   */
  async activate(manager: EntityManager, license: LicensePayload, keyText: string, now: Date): Promise<LicenseRow> {
    await manager.query(`UPDATE licensing.licenses SET active = false WHERE active AND license_id <> $1`, [license.licenseId]);
    const rows = await queryRows<LicenseRow>(
      manager,
      `INSERT INTO licensing.licenses (license_id, customer, seats, features, issued_at, expires_at, key_text, installed_at, active)
       VALUES ($1, $2, $3, $4::text[], $5, $6, $7, $8, true)
       ON CONFLICT (license_id) DO UPDATE SET active = true, installed_at = EXCLUDED.installed_at
       RETURNING ${LICENSE_COLUMNS}`,
      [license.licenseId, license.customer, license.seats, license.features, license.issuedAt, license.expiresAt, keyText, now],
    );
    return rows[0]!;
  }

  /**
   * The active license, locked for this transaction's expiry check; null when there is none or
   * another instance is checking it right now (SKIP LOCKED: that instance does the work).
   */
  async lockActiveForCheck(manager: EntityManager): Promise<LicenseRow | null> {
    const rows = await queryRows<LicenseRow>(manager, `SELECT ${LICENSE_COLUMNS} FROM licensing.licenses WHERE active FOR UPDATE SKIP LOCKED`);
    return rows[0] ?? null;
  }

  async recordExpiringNotified(manager: EntityManager, licenseId: string, thresholds: number[]): Promise<void> {
    await manager.query(`UPDATE licensing.licenses SET expiring_notified = $2::integer[] WHERE license_id = $1`, [licenseId, thresholds]);
  }
}
