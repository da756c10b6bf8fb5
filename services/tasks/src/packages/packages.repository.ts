import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { queryRows } from '@fleetcast/persistence';
import { DataSource, EntityManager } from 'typeorm';
import { ListPackagesQuery, Package } from '@fleetcast/contracts';
import { Manifest, Signed } from '@fleetcast/content';

interface PackageRow {
  id: string;
  name: string;
  version: string;
  platform: Package['platform'];
  install_command: string;
  install_args: string[];
  success_exit_codes: number[];
  timeout_seconds: number;
  status: Package['status'];
  content_id: string | null;
  size: string | null;
  confidential: boolean;
  created_at: Date;
}

const toPackage = (r: PackageRow): Package => ({
  id: r.id,
  name: r.name,
  version: r.version,
  platform: r.platform,
  installCommand: r.install_command,
  installArgs: r.install_args,
  successExitCodes: r.success_exit_codes,
  timeoutSeconds: r.timeout_seconds,
  status: r.status,
  contentId: r.content_id,
  size: r.size === null ? null : Number(r.size),
  confidential: r.confidential,
  createdAt: r.created_at.toISOString(),
});

const COLUMNS = `id, name, version, platform, install_command, install_args, success_exit_codes, timeout_seconds, status, content_id, size, confidential, created_at`;

/** Escapes LIKE's wildcards, so that a name filter is a plain substring. */
const likeLiteral = (text: string): string => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/** What a deletion found and did, in its transaction. */
export type PackageDeletion =
  | { outcome: 'not-found' }
  | { outcome: 'in-use'; taskIds: string[]; activeTasks: number }
  | { outcome: 'deleted'; deletedAt: Date; releasedContentId: string | null };

@Injectable()
export class PackagesRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async insert(p: Omit<Package, 'createdAt' | 'status' | 'contentId' | 'size'>): Promise<Package> {
    const rows = await queryRows<PackageRow>(this.db, 
      `INSERT INTO tasks.packages (id, name, version, platform, install_command, install_args, success_exit_codes, timeout_seconds, confidential, status)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'awaiting-content') RETURNING ${COLUMNS}`,
      [p.id, p.name, p.version, p.platform, p.installCommand, JSON.stringify(p.installArgs), JSON.stringify(p.successExitCodes), p.timeoutSeconds, p.confidential],
    );
    return toPackage(rows[0]);
  }

  async find(id: string, manager: EntityManager = this.db.manager): Promise<Package | null> {
    const rows = await queryRows<PackageRow>(manager, `SELECT ${COLUMNS} FROM tasks.packages WHERE id = $1 AND deleted_at IS NULL`, [id]);
    return rows[0] ? toPackage(rows[0]) : null;
  }

  /**
   * Holds a package against deletion until the caller's transaction ends (a task being created
   * with it): KEY SHARE conflicts with the deletion's FOR UPDATE. False when it is deleted or unknown.
   */
  async lockLive(m: EntityManager, id: string): Promise<boolean> {
    const rows = await m.query(`SELECT 1 FROM tasks.packages WHERE id = $1 AND deleted_at IS NULL FOR KEY SHARE`, [id]);
    return rows.length > 0;
  }

  /** Newest first, filtered by a name substring (case-insensitive), status and creation time ([createdAfter, createdBefore)); the total counts the matches. */
  async list(query: ListPackagesQuery): Promise<{ items: Package[]; total: number }> {
    const where = `deleted_at IS NULL AND ($1::text IS NULL OR name ILIKE '%' || $1 || '%') AND ($2::text IS NULL OR status = $2)
       AND ($3::timestamptz IS NULL OR created_at >= $3) AND ($4::timestamptz IS NULL OR created_at < $4)`;
    const filters = [query.name === undefined ? null : likeLiteral(query.name), query.status ?? null, query.createdAfter ?? null, query.createdBefore ?? null];
    const rows = await queryRows<PackageRow>(this.db, `SELECT ${COLUMNS} FROM tasks.packages WHERE ${where} ORDER BY created_at DESC, id LIMIT $5 OFFSET $6`, [
      ...filters,
      query.limit,
      query.offset,
    ]);
    const [{ count }] = await this.db.query(`SELECT count(*)::int AS count FROM tasks.packages WHERE ${where}`, filters);
    return { items: rows.map(toPackage), total: count };
  }

  /**
   * Marks a package deleted unless a scheduled or active task uses it; in one transaction, with the
   * row locked, so that no task can be created with it meanwhile (see `lockLive`). A package deleted
   * before is found again with its first deletion time. The content is released when no package
   * left has the same bytes.
   */
  async markDeleted(id: string, now: Date): Promise<PackageDeletion> {
    return this.db.transaction(async (m) => {
      const found = await queryRows<{ content_id: string | null; deleted_at: Date | null }>(m, `SELECT content_id, deleted_at FROM tasks.packages WHERE id = $1 FOR UPDATE`, [id]);
      const row = found[0];
      if (!row) return { outcome: 'not-found' };
      let deletedAt = row.deleted_at;
      if (deletedAt === null) {
        const active = await queryRows<{ id: string; total: number }>(
          m,
          `SELECT id, count(*) OVER ()::int AS total FROM tasks.tasks WHERE package_id = $1 AND status IN ('scheduled', 'active') ORDER BY created_at DESC LIMIT 5`,
          [id],
        );
        if (active.length > 0) return { outcome: 'in-use', taskIds: active.map((t) => t.id), activeTasks: active[0]!.total };
        await m.query(`UPDATE tasks.packages SET deleted_at = $2 WHERE id = $1`, [id, now]);
        deletedAt = now;
      }
      let releasedContentId: string | null = null;
      if (row.content_id !== null) {
        const shared = await m.query(`SELECT 1 FROM tasks.packages WHERE content_id = $1 AND deleted_at IS NULL LIMIT 1`, [row.content_id]);
        if (shared.length === 0) releasedContentId = row.content_id;
      }
      return { outcome: 'deleted', deletedAt, releasedContentId };
    });
  }

  /**
   * Content of deleted packages that no live package has, which this device was sent (a target of
   * a task with it): what its cache may drop. Newest deletions first, at most `limit`.
   */
  async deletedContentFor(deviceId: string, limit: number): Promise<string[]> {
    const rows = await queryRows<{ content_id: string }>(
      this.db,
      `SELECT p.content_id FROM tasks.packages p
       WHERE p.deleted_at IS NOT NULL AND p.content_id IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM tasks.packages l WHERE l.content_id = p.content_id AND l.deleted_at IS NULL)
         AND EXISTS (SELECT 1 FROM tasks.tasks t JOIN tasks.device_tasks d ON d.task_id = t.id WHERE t.package_id = p.id AND d.device_id = $1)
       GROUP BY p.content_id ORDER BY max(p.deleted_at) DESC, p.content_id LIMIT $2`,
      [deviceId, limit],
    );
    return rows.map((r) => r.content_id);
  }

  /** Oldest first: a page walk that new packages only extend, so that none is skipped. */
  async listOldestFirst(limit: number, offset: number): Promise<{ items: Package[]; total: number }> {
    const rows = await queryRows<PackageRow>(this.db, `SELECT ${COLUMNS} FROM tasks.packages WHERE deleted_at IS NULL ORDER BY created_at, id LIMIT $1 OFFSET $2`, [limit, offset]);
    const [{ count }] = await this.db.query(`SELECT count(*)::int AS count FROM tasks.packages WHERE deleted_at IS NULL`);
    return { items: rows.map(toPackage), total: count };
  }

  /**
   * Makes a package ready with its signed manifest and, for a confidential one, its content key
   * (stored as given: the caller wraps it), in one statement. Only a package still awaiting content:
   * null when another attach got there first.
   */
  async attachContent(id: string, signed: Signed<Manifest>, contentKey: { key: Buffer; wrapped: boolean } | null = null): Promise<Package | null> {
    const m = signed.value;
    const rows = await queryRows<PackageRow>(this.db, 
      `UPDATE tasks.packages SET status = 'ready', content_id = $2, size = $3, block_size = $4, block_hashes = $5, key_id = $6, signature = $7,
         content_key = $8, content_key_wrapped = $9
       WHERE id = $1 AND status = 'awaiting-content' RETURNING ${COLUMNS}`,
      [id, m.contentId, m.size, m.blockSize, Buffer.from(m.blockHashes), signed.keyId, Buffer.from(signed.signature), contentKey?.key ?? null, contentKey?.wrapped ?? false],
    );
    return rows[0] ? toPackage(rows[0]) : null;
  }

  /** Whether a live package other than `exceptId` has this content (then it must stay at the origin). */
  async contentUsedElsewhere(contentId: string, exceptId: string): Promise<boolean> {
    const rows = await this.db.query(`SELECT 1 FROM tasks.packages WHERE content_id = $1 AND id <> $2 AND deleted_at IS NULL LIMIT 1`, [contentId, exceptId]);
    return rows.length > 0;
  }

  /**
   * The content key of a confidential package with this content, only when the device is a target of
   * an install task with it that is not over (task scheduled or active, the device neither done,
   * failed nor cancelled). `confidential: false` when the content is known but not confidential;
   * null when nothing matches at all.
   */
  async contentKeyFor(deviceId: string, contentId: string): Promise<
    { confidential: false } | { confidential: true; packageId: string; key: Buffer | null; wrapped: boolean; targeted: boolean } | null
  > {
    const rows = await queryRows<{ id: string; confidential: boolean; content_key: Buffer | null; content_key_wrapped: boolean; targeted: boolean }>(
      this.db,
      `SELECT p.id, p.confidential, p.content_key, p.content_key_wrapped,
         EXISTS (SELECT 1 FROM tasks.tasks t JOIN tasks.device_tasks d ON d.task_id = t.id
                 WHERE t.package_id = p.id AND t.action = 'install' AND t.status IN ('scheduled', 'active')
                   AND d.device_id = $1 AND d.state NOT IN ('succeeded', 'failed', 'cancelled')) AS targeted
       FROM tasks.packages p WHERE p.content_id = $2 AND p.status = 'ready' AND p.deleted_at IS NULL
       ORDER BY p.confidential DESC LIMIT 1`,
      [deviceId, contentId],
    );
    const r = rows[0];
    if (!r) return null;
    if (!r.confidential) return { confidential: false };
    return { confidential: true, packageId: r.id, key: r.content_key, wrapped: r.content_key_wrapped, targeted: r.targeted };
  }

  /** Ready packages whose manifest `keyId` signed, with the manifest (to sign it again when that key retires). */
  async manifestsSignedBy(m: EntityManager, keyId: string): Promise<Array<{ packageId: string; manifest: Manifest }>> {
    const rows = await queryRows<{ id: string; content_id: string; size: string; block_size: number; block_hashes: Buffer }>(
      m,
      `SELECT id, content_id, size, block_size, block_hashes FROM tasks.packages WHERE key_id = $1 AND status = 'ready' ORDER BY id FOR UPDATE`,
      [keyId],
    );
    return rows.map((r) => ({
      packageId: r.id,
      manifest: { contentId: r.content_id, size: Number(r.size), blockSize: r.block_size, blockHashes: new Uint8Array(r.block_hashes) },
    }));
  }

  async updateSignature(m: EntityManager, packageId: string, signed: Pick<Signed<Manifest>, 'keyId' | 'signature'>): Promise<void> {
    await m.query(`UPDATE tasks.packages SET key_id = $2, signature = $3 WHERE id = $1`, [packageId, signed.keyId, Buffer.from(signed.signature)]);
  }

  /** Whether the device is a target of some task whose package has this content. */
  async deviceHasContentTask(deviceId: string, contentId: string): Promise<boolean> {
    const rows = await this.db.query(
      `SELECT 1 FROM tasks.device_tasks d JOIN tasks.tasks t ON t.id = d.task_id JOIN tasks.packages p ON p.id = t.package_id
       WHERE d.device_id = $1 AND p.content_id = $2 LIMIT 1`,
      [deviceId, contentId],
    );
    return rows.length > 0;
  }

  async findManifest(contentId: string): Promise<Signed<Manifest> | null> {
    const rows = await queryRows<{ size: string; block_size: number; block_hashes: Buffer; key_id: string; signature: Buffer }>(this.db, 
      `SELECT size, block_size, block_hashes, key_id, signature FROM tasks.packages WHERE content_id = $1 AND status = 'ready' AND deleted_at IS NULL LIMIT 1`,
      [contentId],
    );
    const r = rows[0];
    if (!r) return null;
    return {
      value: { contentId, size: Number(r.size), blockSize: r.block_size, blockHashes: new Uint8Array(r.block_hashes) },
      keyId: r.key_id,
      signature: new Uint8Array(r.signature),
    };
  }
}
