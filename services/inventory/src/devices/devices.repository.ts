import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { AgentVersionState, AgentVersionStatus, NetworkInterface, Platform } from '@fleetcast/contracts';
import type { DeviceRecord } from './device-record';

/** A device as read back, with staleness decided by the database's clock at query time. */
export interface DeviceRow {
  id: string;
  hostname: string;
  platform: Platform;
  osVersion: string;
  agentVersion: string;
  interfaces: NetworkInterface[];
  subnets: string[];
  primarySubnet: string | null;
  cachedContentIds: string[];
  /** bigint arrives from pg as a string. */
  cacheFreeBytes: string;
  lastSeenAt: Date;
  stale: boolean;
  versionState: AgentVersionState;
  versionReason: string | null;
}

/** A device as a target: its subnet and whether its agent version is supported. */
export interface DeviceSubnetRow {
  id: string;
  primarySubnet: string | null;
  versionState: AgentVersionState;
  versionReason: string | null;
}

export interface SubnetRow {
  cidr: string;
  deviceCount: number;
  staleCount: number;
}

/** Filters of a device listing; `subnet` is a normalised CIDR compared with the primary subnet. */
export interface DeviceFilter {
  platform?: Platform;
  subnet?: string;
  /** true: only stale devices; false: only fresh ones; absent: both. */
  stale?: boolean;
  /** Case-insensitive host name prefix. */
  hostnamePrefix?: string;
  versionState?: AgentVersionState;
}

/** Bind parameters per upserted row: every column but last_seen_at, which is the database's `now()`. */
const UPSERT_COLUMNS = 15;
/** Rows per INSERT statement: 1,000 x 15 parameters stays far below Postgres's limit of 65,535. */
const UPSERT_CHUNK = 1_000;

const DEVICE_COLUMNS = `
  id, hostname, platform, os_version AS "osVersion", agent_version AS "agentVersion", interfaces, subnets,
  primary_subnet AS "primarySubnet", cached_content_ids AS "cachedContentIds", cache_free_bytes AS "cacheFreeBytes",
  last_seen_at AS "lastSeenAt", version_state AS "versionState", version_reason AS "versionReason"`;

const TARGET_COLUMNS = `id, primary_subnet AS "primarySubnet", version_state AS "versionState", version_reason AS "versionReason"`;

/**
 * "Stale" is computed when a query runs: last_seen_at older than the threshold by the database's
 * own clock, the same clock that wrote last_seen_at. So no sweeper job marks devices stale, and a
 * change of STALE_AFTER_SECONDS applies at once to every device.
 */
const isStale = (param: string) => `(last_seen_at < now() - make_interval(secs => ${param}))`;

/** The only code of the inventory that speaks SQL. */
@Injectable()
export class DevicesRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Stores a batch of scans (at most one per device) in one transaction. A row is written only when
   * its scan is newer than the stored one, so a redelivered or late scan changes nothing, and
   * last_seen_at then stays at the time the newer scan arrived. Returns the IDs actually written.
   */
  async upsertNewer(records: readonly DeviceRecord[]): Promise<string[]> {
    if (records.length === 0) return [];
    return this.dataSource.transaction(async (manager) => {
      const written: string[] = [];
      for (let start = 0; start < records.length; start += UPSERT_CHUNK) {
        const chunk = records.slice(start, start + UPSERT_CHUNK);
        const rows: Array<{ id: string }> = await manager.query(upsertSql(chunk.length), chunk.flatMap(upsertParams));
        for (const row of rows) written.push(row.id);
      }
      return written;
    });
  }

  async findById(id: string, staleAfterSeconds: number): Promise<DeviceRow | null> {
    const rows: DeviceRow[] = await this.dataSource.query(
      `SELECT ${DEVICE_COLUMNS}, ${isStale('$2')} AS stale FROM inventory.devices WHERE id = $1`,
      [id, staleAfterSeconds],
    );
    return rows[0] ?? null;
  }

  async list(filter: DeviceFilter, page: { limit: number; offset: number }, staleAfterSeconds: number): Promise<{ rows: DeviceRow[]; total: number }> {
    const counting = new Params();
    const countWhere = whereClause(filter, staleAfterSeconds, counting);
    const listing = new Params();
    const staleColumn = isStale(listing.bind(staleAfterSeconds));
    const where = whereClause(filter, staleAfterSeconds, listing);
    const [rows, counted] = await Promise.all([
      this.dataSource.query(
        `SELECT ${DEVICE_COLUMNS}, ${staleColumn} AS stale FROM inventory.devices ${where}
         ORDER BY id LIMIT ${listing.bind(page.limit)} OFFSET ${listing.bind(page.offset)}`,
        listing.values,
      ) as Promise<DeviceRow[]>,
      this.dataSource.query(`SELECT count(*)::int AS total FROM inventory.devices ${countWhere}`, counting.values) as Promise<Array<{ total: number }>>,
    ]);
    return { rows, total: counted[0]?.total ?? 0 };
  }

  /**
   * The subnet map: devices grouped by primary subnet, counted from the devices table itself at
   * query time. A separately maintained counter table could drift from the devices (a crash between
   * two writes, a device that moves subnet); a GROUP BY over a few hundred thousand rows cannot.
   */
  async subnets(staleAfterSeconds: number): Promise<SubnetRow[]> {
    return this.dataSource.query(
      `SELECT primary_subnet AS cidr, count(*)::int AS "deviceCount", count(*) FILTER (WHERE ${isStale('$1')})::int AS "staleCount"
       FROM inventory.devices WHERE primary_subnet IS NOT NULL GROUP BY primary_subnet`,
      [staleAfterSeconds],
    );
  }

  /**
   * Primary subnets of the given devices (unknown IDs are simply absent). One round trip whatever
   * the count: the IDs travel as one array parameter, where `IN ($1, ..., $n)` would hit the
   * parameter limit past 65,535 IDs and make Postgres plan a new statement for every count.
   */
  async primarySubnetsOf(ids: readonly string[]): Promise<DeviceSubnetRow[]> {
    if (ids.length === 0) return [];
    return this.dataSource.query(`SELECT ${TARGET_COLUMNS} FROM inventory.devices WHERE id = ANY($1::text[])`, [ids]);
  }

  /** The interfaces of the given devices as their latest scan reported them (unknown IDs are absent), in ID order. */
  async interfacesOf(ids: readonly string[]): Promise<Array<{ id: string; interfaces: NetworkInterface[] }>> {
    if (ids.length === 0) return [];
    return this.dataSource.query(`SELECT id, interfaces FROM inventory.devices WHERE id = ANY($1::text[]) ORDER BY id`, [ids]);
  }

  /** Devices matching a filter, in ID order. */
  /** The devices a filter matches with an ID after `after`, in ID order, at most `limit` (the primary key's index serves it). */
  async matchingPage(filter: DeviceFilter, staleAfterSeconds: number, after: string | undefined, limit: number): Promise<DeviceSubnetRow[]> {
    const params = new Params();
    const where = whereClause(filter, staleAfterSeconds, params);
    const page = after === undefined ? '' : `${where ? ' AND' : 'WHERE'} id > ${params.bind(after)}`;
    return this.dataSource.query(`SELECT ${TARGET_COLUMNS} FROM inventory.devices ${where}${page} ORDER BY id LIMIT ${params.bind(limit)}`, params.values);
  }

  async matching(filter: DeviceFilter, staleAfterSeconds: number): Promise<DeviceSubnetRow[]> {
    const params = new Params();
    const where = whereClause(filter, staleAfterSeconds, params);
    return this.dataSource.query(`SELECT ${TARGET_COLUMNS} FROM inventory.devices ${where} ORDER BY id`, params.values);
  }

  /**
   * The distinct agent versions of devices whose version status was judged against another range
   * than `range` (or never judged: rows from before the status existed). A few per fleet, whatever
   * its size: the unit of work when the configured range changes.
   */
  async agentVersionsJudgedOtherwise(range: string): Promise<string[]> {
    const rows: Array<{ agentVersion: string }> = await this.dataSource.query(
      `SELECT DISTINCT agent_version AS "agentVersion" FROM inventory.devices WHERE version_range IS DISTINCT FROM $1 ORDER BY 1`,
      [range],
    );
    return rows.map((row) => row.agentVersion);
  }

  /**
   * Sets the version status of every device of one agent version that was judged against another
   * range than `range`: one statement per version, not per device. A scan stored meanwhile was
   * judged against `range` already and is left alone. Returns how many devices changed.
   */
  async setVersionStatus(agentVersion: string, status: AgentVersionStatus, range: string): Promise<number> {
    const rows: Array<{ updated: number }> = await this.dataSource.query(
      `WITH updated AS (
         UPDATE inventory.devices SET version_state = $2, version_reason = $3, version_range = $4
         WHERE agent_version = $1 AND version_range IS DISTINCT FROM $4 RETURNING 1
       ) SELECT count(*)::int AS updated FROM updated`,
      [agentVersion, status.state, status.reason, range],
    );
    return rows[0]?.updated ?? 0;
  }

  /** Readiness: the database answers. */
  async ping(): Promise<void> {
    await this.dataSource.query('SELECT 1');
  }
}

function upsertSql(rowCount: number): string {
  const values: string[] = [];
  for (let row = 0; row < rowCount; row++) {
    const p = (column: number) => `$${row * UPSERT_COLUMNS + column}`;
    values.push(
      `(${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, ${p(6)}::jsonb, ${p(7)}::text[], ${p(8)}, ${p(9)}::text[], ${p(10)}::bigint, ${p(11)}::timestamptz, ${p(12)}::bigint, ${p(13)}, ${p(14)}, ${p(15)}, now())`,
    );
  }
  return `
    INSERT INTO inventory.devices
      (id, hostname, platform, os_version, agent_version, interfaces, subnets, primary_subnet, cached_content_ids,
       cache_free_bytes, scanned_at, scan_seq, version_state, version_reason, version_range, last_seen_at)
    VALUES ${values.join(',\n')}
    ON CONFLICT (id) DO UPDATE SET
      hostname = EXCLUDED.hostname,
      platform = EXCLUDED.platform,
      os_version = EXCLUDED.os_version,
      agent_version = EXCLUDED.agent_version,
      interfaces = EXCLUDED.interfaces,
      subnets = EXCLUDED.subnets,
      primary_subnet = EXCLUDED.primary_subnet,
      cached_content_ids = EXCLUDED.cached_content_ids,
      cache_free_bytes = EXCLUDED.cache_free_bytes,
      scanned_at = EXCLUDED.scanned_at,
      scan_seq = EXCLUDED.scan_seq,
      version_state = EXCLUDED.version_state,
      version_reason = EXCLUDED.version_reason,
      version_range = EXCLUDED.version_range,
      last_seen_at = EXCLUDED.last_seen_at
    WHERE inventory.devices.scan_seq < EXCLUDED.scan_seq
    RETURNING id`;
}

function upsertParams(record: DeviceRecord): unknown[] {
  return [
    record.id,
    record.hostname,
    record.platform,
    record.osVersion,
    record.agentVersion,
    // pg would turn a JS array into a Postgres array, not JSON: the jsonb column gets JSON text.
    JSON.stringify(record.interfaces),
    record.subnets,
    record.primarySubnet,
    record.cachedContentIds,
    record.cacheFreeBytes,
    record.scannedAt,
    record.scanSeq,
    record.versionState,
    record.versionReason,
    record.versionRange,
  ];
}

/**
 * Bind parameters collected while a statement is built. Only values the text refers to are bound:
 * Postgres rejects a statement with a parameter it cannot type because nothing uses it.
 */
class Params {
  readonly values: unknown[] = [];
  bind(value: unknown): string {
    return `$${this.values.push(value)}`;
  }
}

function whereClause(filter: DeviceFilter, staleAfterSeconds: number, params: Params): string {
  const conditions: string[] = [];
  if (filter.platform !== undefined) conditions.push(`platform = ${params.bind(filter.platform)}`);
  if (filter.subnet !== undefined) conditions.push(`primary_subnet = ${params.bind(filter.subnet)}`);
  if (filter.versionState !== undefined) conditions.push(`version_state = ${params.bind(filter.versionState)}`);
  if (filter.hostnamePrefix !== undefined) {
    conditions.push(`lower(hostname) LIKE ${params.bind(`${escapeLike(filter.hostnamePrefix.toLowerCase())}%`)}`);
  }
  if (filter.stale === true) conditions.push(isStale(params.bind(staleAfterSeconds)));
  if (filter.stale === false) conditions.push(`NOT ${isStale(params.bind(staleAfterSeconds))}`);
  return conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
}

/** A prefix is literal text: LIKE's wildcards and its escape character lose their meaning. */
function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}
