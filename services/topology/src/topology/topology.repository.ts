import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import type { TopologyChangeSummary, TopologyDocument, TopologyVersion } from '@fleetcast/contracts';
import { Queryable, queryRows } from '@fleetcast/persistence';

/** A stored version with its document. */
export interface VersionRow extends TopologyVersion {
  document: TopologyDocument;
}

interface RawVersion {
  version: number;
  author: string;
  comment: string | null;
  createdAt: Date;
  summary: TopologyChangeSummary;
}

const VERSION_COLUMNS = `version, author, comment, created_at AS "createdAt", summary`;
const toVersion = (row: RawVersion): TopologyVersion => ({ ...row, createdAt: row.createdAt.toISOString() });

/** The only code of the topology service that speaks SQL to its versions, offices, subnets and state. */
@Injectable()
export class TopologyRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  /**
   * The current version number, with the state row locked for this transaction: `update` for an
   * upload (one at a time), `share` for placements (many at once, none during an upload).
   */
  async lockState(manager: EntityManager, mode: 'update' | 'share'): Promise<number | null> {
    const rows = await queryRows<{ v: number | null }>(manager, `SELECT current_version AS v FROM topology.state WHERE id = 1 FOR ${mode === 'update' ? 'UPDATE' : 'SHARE'}`);
    return rows[0]?.v ?? null;
  }

  async currentVersion(db: Queryable = this.dataSource): Promise<number | null> {
    const rows = await queryRows<{ v: number | null }>(db, `SELECT current_version AS v FROM topology.state WHERE id = 1`);
    return rows[0]?.v ?? null;
  }

  async version(version: number, db: Queryable = this.dataSource): Promise<VersionRow | null> {
    const rows = await queryRows<RawVersion & { document: TopologyDocument }>(db, `SELECT ${VERSION_COLUMNS}, document FROM topology.versions WHERE version = $1`, [version]);
    const row = rows[0];
    return row ? { ...toVersion(row), document: row.document } : null;
  }

  async listVersions(limit: number, offset: number): Promise<{ items: TopologyVersion[]; total: number }> {
    const items = await queryRows<RawVersion>(this.dataSource, `SELECT ${VERSION_COLUMNS} FROM topology.versions ORDER BY version DESC LIMIT $1 OFFSET $2`, [limit, offset]);
    const [{ total }] = await queryRows<{ total: number }>(this.dataSource, `SELECT count(*)::int AS total FROM topology.versions`);
    return { items: items.map(toVersion), total: total! };
  }

  /**
   * Stores a version and makes it current: the version row, the offices and subnets replaced by
   * its own (one statement each, from arrays), the state pointing at it.
   */
  async store(manager: EntityManager, row: VersionRow): Promise<void> {
    const { document } = row;
    await manager.query(
      `INSERT INTO topology.versions (version, document, author, comment, created_at, summary) VALUES ($1, $2::jsonb, $3, $4, $5, $6::jsonb)`,
      [row.version, JSON.stringify(document), row.author, row.comment, row.createdAt, JSON.stringify(row.summary)],
    );
    await manager.query(`DELETE FROM topology.subnets`);
    await manager.query(`DELETE FROM topology.offices`);
    const offices = document.offices;
    await manager.query(
      `INSERT INTO topology.offices (office_id, name, type, parent_id, wan_bandwidth_kbps)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::integer[])`,
      [offices.map((o) => o.id), offices.map((o) => o.name), offices.map((o) => o.type), offices.map((o) => o.parent), offices.map((o) => o.wan?.bandwidthKbps ?? null)],
    );
    const subnets = offices.flatMap((o) => o.subnets.map((cidr) => [cidr, o.id] as const));
    await manager.query(`INSERT INTO topology.subnets (cidr, office_id) SELECT * FROM unnest($1::cidr[], $2::text[])`, [subnets.map((s) => s[0]), subnets.map((s) => s[1])]);
    await manager.query(`UPDATE topology.state SET current_version = $1 WHERE id = 1`, [row.version]);
  }

  async ping(): Promise<void> {
    await this.dataSource.query('SELECT 1');
  }
}
