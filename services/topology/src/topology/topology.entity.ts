import { Column, Entity, PrimaryColumn } from 'typeorm';

/*
 * The tables as the initial migration creates them. The migrations, not these classes, define the
 * tables (`synchronize` is off); the repositories read and write them with SQL.
 */

/** `topology.versions`: every version ever stored, the newest being the current one. */
@Entity({ schema: 'topology', name: 'versions' })
export class TopologyVersionEntity {
  @PrimaryColumn({ type: 'integer' })
  version!: number;

  /** The document as validated: defaults filled in, subnets canonical. */
  @Column({ type: 'jsonb' })
  document!: unknown;

  @Column({ type: 'text' })
  author!: string;

  @Column({ type: 'text', nullable: true })
  comment!: string | null;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  /** What it changed against the version before (`TopologyChangeSummary`). */
  @Column({ type: 'jsonb' })
  summary!: unknown;
}

/** `topology.offices`: the current version's offices. */
@Entity({ schema: 'topology', name: 'offices' })
export class OfficeEntity {
  @PrimaryColumn({ name: 'office_id', type: 'text' })
  officeId!: string;

  @Column({ type: 'text' })
  name!: string;

  @Column({ type: 'text' })
  type!: string;

  @Column({ name: 'parent_id', type: 'text', nullable: true })
  parentId!: string | null;

  @Column({ name: 'wan_bandwidth_kbps', type: 'integer', nullable: true })
  wanBandwidthKbps!: number | null;
}

/** `topology.subnets`: the current version's subnets; an exclusion constraint forbids overlaps. */
@Entity({ schema: 'topology', name: 'subnets' })
export class SubnetEntity {
  @PrimaryColumn({ type: 'cidr' })
  cidr!: string;

  @Column({ name: 'office_id', type: 'text' })
  officeId!: string;
}
