import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * The `licensing.licenses` table as the initial migration creates it: every license ever
 * installed, the active one marked. The migrations, not this class, define the table
 * (`synchronize` is off); the repository reads and writes it with SQL.
 */
@Entity({ schema: 'licensing', name: 'licenses' })
export class LicenseEntity {
  @PrimaryColumn({ name: 'license_id', type: 'text' })
  licenseId!: string;

  @Column({ type: 'text' })
  customer!: string;

  /** Seats bought. */
  @Column({ type: 'integer' })
  seats!: number;

  @Column({ type: 'text', array: true })
  features!: string[];

  @Column({ name: 'issued_at', type: 'timestamptz' })
  issuedAt!: Date;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;

  /** The key text as installed: the signed proof of what the license grants. */
  @Column({ name: 'key_text', type: 'text' })
  keyText!: string;

  /** When it was last made the active license. */
  @Column({ name: 'installed_at', type: 'timestamptz' })
  installedAt!: Date;

  /** Exactly one row at most is active (a unique partial index). */
  @Column({ type: 'boolean' })
  active!: boolean;

  /** LICENSE_EXPIRING_DAYS thresholds already announced for this license. */
  @Column({ name: 'expiring_notified', type: 'integer', array: true })
  expiringNotified!: number[];
}
