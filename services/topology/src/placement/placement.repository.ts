import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { Queryable, queryRows } from '@fleetcast/persistence';

/** A device's placement as stored. */
export interface PlacementRow {
  deviceId: string;
  officeId: string | null;
  placed: boolean;
  address: string | null;
  addresses: string[];
  /** bigint as text: scan sequence numbers reach 10^15. */
  scanSeq: string;
  topologyVersion: number | null;
  updatedAt: Date;
}

/** What a placement becomes (a new scan, or a new topology version). */
export interface PlacementWrite {
  deviceId: string;
  officeId: string | null;
  placed: boolean;
  address: string | null;
  addresses: string[];
  scanSeq: number;
  topologyVersion: number | null;
}

const COLUMNS = `device_id AS "deviceId", office_id AS "officeId", placed, address, addresses, scan_seq::text AS "scanSeq",
  topology_version AS "topologyVersion", updated_at AS "updatedAt"`;

/** The only code of the topology service that speaks SQL to `topology.placements`. */
@Injectable()
export class PlacementRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  async get(deviceId: string, db: Queryable = this.dataSource): Promise<PlacementRow | null> {
    const rows = await queryRows<PlacementRow>(db, `SELECT ${COLUMNS} FROM topology.placements WHERE device_id = $1`, [deviceId]);
    return rows[0] ?? null;
  }

  /** The rows of these devices, locked for this transaction (in ID order, so two batches never deadlock). */
  async lock(manager: EntityManager, deviceIds: string[]): Promise<Map<string, PlacementRow>> {
    const rows = await queryRows<PlacementRow>(manager, `SELECT ${COLUMNS} FROM topology.placements WHERE device_id = ANY($1::text[]) ORDER BY device_id FOR UPDATE`, [deviceIds]);
    return new Map(rows.map((r) => [r.deviceId, r]));
  }

  /** Every placement, locked: a new topology version places them all again. */
  async lockAll(manager: EntityManager): Promise<PlacementRow[]> {
    return queryRows<PlacementRow>(manager, `SELECT ${COLUMNS} FROM topology.placements ORDER BY device_id FOR UPDATE`);
  }

  /** Inserts or replaces placements, one statement for the batch. */
  async write(manager: EntityManager, writes: PlacementWrite[], now: Date): Promise<void> {
    if (writes.length === 0) return;
    await manager.query(
      `INSERT INTO topology.placements (device_id, office_id, placed, address, addresses, scan_seq, topology_version, updated_at)
       SELECT w.device_id, w.office_id, w.placed, w.address, ARRAY(SELECT json_array_elements_text(w.addresses::json)), w.scan_seq, w.topology_version, $8
       FROM unnest($1::text[], $2::text[], $3::boolean[], $4::text[], $5::text[], $6::bigint[], $7::integer[])
         AS w(device_id, office_id, placed, address, addresses, scan_seq, topology_version)
       ON CONFLICT (device_id) DO UPDATE SET office_id = EXCLUDED.office_id, placed = EXCLUDED.placed, address = EXCLUDED.address,
         addresses = EXCLUDED.addresses, scan_seq = EXCLUDED.scan_seq, topology_version = EXCLUDED.topology_version, updated_at = EXCLUDED.updated_at`,
      [
        writes.map((w) => w.deviceId),
        writes.map((w) => w.officeId),
        writes.map((w) => w.placed),
        writes.map((w) => w.address),
        // A text[] per row cannot travel in an array of arrays of differing lengths: each goes as JSON.
        writes.map((w) => JSON.stringify(w.addresses)),
        writes.map((w) => w.scanSeq),
        writes.map((w) => w.topologyVersion),
        now,
      ],
    );
  }

  /**
   * Moves devices to the offices a new version gives them, then notes that version on every
   * placement (in this order: a device seen before any topology gets its office first).
   */
  async replace(manager: EntityManager, moves: Array<Pick<PlacementWrite, 'deviceId' | 'officeId' | 'placed' | 'address'>>, version: number, now: Date): Promise<void> {
    if (moves.length > 0) {
      await manager.query(
        `UPDATE topology.placements p SET office_id = m.office_id, placed = m.placed, address = m.address, topology_version = $5, updated_at = $6
         FROM unnest($1::text[], $2::text[], $3::boolean[], $4::text[]) AS m(device_id, office_id, placed, address)
         WHERE p.device_id = m.device_id`,
        [moves.map((m) => m.deviceId), moves.map((m) => m.officeId), moves.map((m) => m.placed), moves.map((m) => m.address), version, now],
      );
    }
    await manager.query(`UPDATE topology.placements SET topology_version = $1 WHERE topology_version IS DISTINCT FROM $1`, [version]);
  }

  async listUnplaced(limit: number, offset: number): Promise<{ items: PlacementRow[]; total: number }> {
    const items = await queryRows<PlacementRow>(
      this.dataSource,
      `SELECT ${COLUMNS} FROM topology.placements WHERE NOT placed AND office_id IS NOT NULL ORDER BY device_id LIMIT $1 OFFSET $2`,
      [limit, offset],
    );
    const [{ total }] = await queryRows<{ total: number }>(this.dataSource, `SELECT count(*)::int AS total FROM topology.placements WHERE NOT placed AND office_id IS NOT NULL`);
    return { items, total: total! };
  }

  /** Devices in each of these offices (placed ones, and unplaced ones in the default office), by office ID. */
  async deviceCounts(officeIds: readonly string[]): Promise<Map<string, number>> {
    if (officeIds.length === 0) return new Map();
    const rows = await queryRows<{ officeId: string; devices: number }>(
      this.dataSource,
      `SELECT office_id AS "officeId", count(*)::int AS devices FROM topology.placements WHERE office_id = ANY($1::text[]) GROUP BY office_id`,
      [officeIds],
    );
    return new Map(rows.map((r) => [r.officeId, r.devices]));
  }

  /** Placed devices of an office other than `exceptDeviceId`, by device ID, and how many there are. */
  async peers(officeId: string, exceptDeviceId: string, limit: number): Promise<{ items: Array<{ deviceId: string; address: string }>; total: number }> {
    const items = await queryRows<{ deviceId: string; address: string }>(
      this.dataSource,
      `SELECT device_id AS "deviceId", address FROM topology.placements WHERE office_id = $1 AND placed AND device_id <> $2 ORDER BY device_id LIMIT $3`,
      [officeId, exceptDeviceId, limit],
    );
    const [{ total }] = await queryRows<{ total: number }>(
      this.dataSource,
      `SELECT count(*)::int AS total FROM topology.placements WHERE office_id = $1 AND placed AND device_id <> $2`,
      [officeId, exceptDeviceId],
    );
    return { items, total: total! };
  }
}
