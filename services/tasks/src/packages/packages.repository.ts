import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { queryRows } from '@fleetcast/persistence';
import { DataSource, EntityManager } from 'typeorm';
import { Package } from '@fleetcast/contracts';
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
  createdAt: r.created_at.toISOString(),
});

const COLUMNS = `id, name, version, platform, install_command, install_args, success_exit_codes, timeout_seconds, status, content_id, size, created_at`;

@Injectable()
export class PackagesRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async insert(p: Omit<Package, 'createdAt' | 'status' | 'contentId' | 'size'>): Promise<Package> {
    const rows = await queryRows<PackageRow>(this.db, 
      `INSERT INTO tasks.packages (id, name, version, platform, install_command, install_args, success_exit_codes, timeout_seconds, status)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'awaiting-content') RETURNING ${COLUMNS}`,
      [p.id, p.name, p.version, p.platform, p.installCommand, JSON.stringify(p.installArgs), JSON.stringify(p.successExitCodes), p.timeoutSeconds],
    );
    return toPackage(rows[0]);
  }

  async find(id: string, manager: EntityManager = this.db.manager): Promise<Package | null> {
    const rows = await queryRows<PackageRow>(manager, `SELECT ${COLUMNS} FROM tasks.packages WHERE id = $1`, [id]);
    return rows[0] ? toPackage(rows[0]) : null;
  }

  async list(limit: number, offset: number): Promise<{ items: Package[]; total: number }> {
    const rows = await queryRows<PackageRow>(this.db, `SELECT ${COLUMNS} FROM tasks.packages ORDER BY created_at DESC, id LIMIT $1 OFFSET $2`, [limit, offset]);
    const [{ count }] = await this.db.query(`SELECT count(*)::int AS count FROM tasks.packages`);
    return { items: rows.map(toPackage), total: count };
  }

  /** Oldest first: a page walk that new packages only extend, so that none is skipped. */
  async listOldestFirst(limit: number, offset: number): Promise<{ items: Package[]; total: number }> {
    const rows = await queryRows<PackageRow>(this.db, `SELECT ${COLUMNS} FROM tasks.packages ORDER BY created_at, id LIMIT $1 OFFSET $2`, [limit, offset]);
    const [{ count }] = await this.db.query(`SELECT count(*)::int AS count FROM tasks.packages`);
    return { items: rows.map(toPackage), total: count };
  }

  async attachContent(id: string, signed: Signed<Manifest>): Promise<Package> {
    const m = signed.value;
    const rows = await queryRows<PackageRow>(this.db, 
      `UPDATE tasks.packages SET status = 'ready', content_id = $2, size = $3, block_size = $4, block_hashes = $5, key_id = $6, signature = $7
       WHERE id = $1 RETURNING ${COLUMNS}`,
      [id, m.contentId, m.size, m.blockSize, Buffer.from(m.blockHashes), signed.keyId, Buffer.from(signed.signature)],
    );
    return toPackage(rows[0]);
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
      `SELECT size, block_size, block_hashes, key_id, signature FROM tasks.packages WHERE content_id = $1 AND status = 'ready' LIMIT 1`,
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
