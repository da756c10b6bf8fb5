import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * `topology.placements` as the initial migration creates it: each device's office by the addresses
 * of its newest scan. The migrations define the table; the repository reads and writes it with SQL.
 */
@Entity({ schema: 'topology', name: 'placements' })
export class PlacementEntity {
  @PrimaryColumn({ name: 'device_id', type: 'text' })
  deviceId!: string;

  /** Null until a topology exists. */
  @Column({ name: 'office_id', type: 'text', nullable: true })
  officeId!: string | null;

  /** False: in the default office because no office's subnets hold any of its addresses. */
  @Column({ type: 'boolean' })
  placed!: boolean;

  @Column({ type: 'text', nullable: true })
  address!: string | null;

  /** Usable addresses of the newest scan, IPv4 first: re-placed from these when the topology changes. */
  @Column({ type: 'text', array: true })
  addresses!: string[];

  /** The scan's sequence number: an older scan never overwrites a newer one. */
  @Column({ name: 'scan_seq', type: 'bigint' })
  scanSeq!: string;

  @Column({ name: 'topology_version', type: 'integer', nullable: true })
  topologyVersion!: number | null;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
