import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { SubnetBytes } from '@fleetcast/contracts';
import { queryRows } from '@fleetcast/persistence';

/** Reads `tasks.subnet_bytes_hourly`, which the status ingest fills (see TasksRepository.applyReports). */
@Injectable()
export class ReportsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Bytes by source per subnet in the hours from `from`'s hour up to `to` (exclusive): a range of the primary key. */
  async bytesBySubnet(from: Date, to: Date): Promise<SubnetBytes[]> {
    const rows = await queryRows<{ subnet: string; origin: string; parent: string; multicast: string; peer: string }>(
      this.db,
      `SELECT subnet, sum(bytes_origin)::text AS origin, sum(bytes_parent)::text AS parent, sum(bytes_multicast)::text AS multicast, sum(bytes_peer)::text AS peer
       FROM tasks.subnet_bytes_hourly WHERE hour >= date_trunc('hour', $1::timestamptz) AND hour < $2
       GROUP BY subnet ORDER BY subnet`,
      [from, to],
    );
    return rows.map((r) => ({ subnet: r.subnet === '' ? null : r.subnet, bytes: { origin: Number(r.origin), parent: Number(r.parent), multicast: Number(r.multicast), peer: Number(r.peer) } }));
  }
}
