import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { SeatReleaseReason } from '@fleetcast/contracts';

/**
 * The `licensing.seats` table as the initial migration creates it: one row per device that holds
 * or held a seat; a device enrolled again takes its row back. Read and written with SQL.
 */
@Entity({ schema: 'licensing', name: 'seats' })
export class SeatEntity {
  @PrimaryColumn({ name: 'device_id', type: 'text' })
  deviceId!: string;

  /** The license active when the seat was given. */
  @Column({ name: 'license_id', type: 'text' })
  licenseId!: string;

  @Column({ name: 'assigned_at', type: 'timestamptz' })
  assignedAt!: Date;

  /** Null while the device holds the seat. */
  @Column({ name: 'released_at', type: 'timestamptz', nullable: true })
  releasedAt!: Date | null;

  @Column({ name: 'release_reason', type: 'text', nullable: true })
  releaseReason!: SeatReleaseReason | null;
}
