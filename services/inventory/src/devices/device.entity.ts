import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { AgentVersionState, NetworkInterface, Platform } from '@fleetcast/contracts';

/**
 * The `inventory.devices` table as the initial migration creates it: one row per device, holding
 * its newest scan. The migrations, not this class, define the table (`synchronize` is off); the
 * repository reads and writes it with hand-written SQL because ingestion upserts hundreds of rows
 * in one statement.
 */
@Entity({ schema: 'inventory', name: 'devices' })
export class DeviceEntity {
  @PrimaryColumn({ type: 'text' })
  id!: string;

  @Column({ type: 'text' })
  hostname!: string;

  @Column({ type: 'text' })
  platform!: Platform;

  @Column({ name: 'os_version', type: 'text' })
  osVersion!: string;

  @Column({ name: 'agent_version', type: 'text' })
  agentVersion!: string;

  @Column({ type: 'jsonb' })
  interfaces!: NetworkInterface[];

  /** Every subnet derived from the device's addresses (link-local and loopback left out). */
  @Column({ type: 'text', array: true })
  subnets!: string[];

  /** The subnet the device is grouped under; null when it has no usable address. */
  @Column({ name: 'primary_subnet', type: 'text', nullable: true })
  primarySubnet!: string | null;

  @Column({ name: 'cached_content_ids', type: 'text', array: true })
  cachedContentIds!: string[];

  /** bigint: a cache can exceed 2 GiB; pg returns it as a string. */
  @Column({ name: 'cache_free_bytes', type: 'bigint' })
  cacheFreeBytes!: string;

  /** The agent's own clock: informative only, never compared with the server's. */
  @Column({ name: 'scanned_at', type: 'timestamptz' })
  scannedAt!: Date;

  /** The agent's scan counter: a scan is stored only if it is newer than the stored one. */
  @Column({ name: 'scan_seq', type: 'bigint' })
  scanSeq!: string;

  @Column({ name: 'first_seen_at', type: 'timestamptz' })
  firstSeenAt!: Date;

  /** When the inventory stored the scan, by the database's clock (the clock staleness is measured with). */
  @Column({ name: 'last_seen_at', type: 'timestamptz' })
  lastSeenAt!: Date;

  /** The agent version judged against the supported range: `unsupported-version` devices get no assignments. */
  @Column({ name: 'version_state', type: 'text' })
  versionState!: AgentVersionState;

  /** Why the agent version is not supported (names the version and the range); null when it is. */
  @Column({ name: 'version_reason', type: 'text', nullable: true })
  versionReason!: string | null;

  /** The range `versionState` was judged against; null until judged (rows older than the column). */
  @Column({ name: 'version_range', type: 'text', nullable: true })
  versionRange!: string | null;
}
