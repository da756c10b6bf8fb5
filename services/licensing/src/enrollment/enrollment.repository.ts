import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { EnrolledDevice, EnrollmentToken } from '@fleetcast/contracts';
import { queryRows } from '@fleetcast/persistence';

export interface TokenRow {
  id: string;
  name: string;
  group: string | null;
  maxUses: number;
  uses: number;
  expiresAt: Date;
  revokedAt: Date | null;
  createdAt: Date;
}

export interface DeviceRow {
  deviceId: string;
  publicKey: string;
  hostname: string;
  platform: EnrolledDevice['platform'];
  agentVersion: string;
  group: string | null;
  state: EnrolledDevice['state'];
  tokenId: string;
  enrolledAt: Date;
  retiredAt: Date | null;
}

const TOKEN_COLUMNS = `id, name, device_group AS "group", max_uses AS "maxUses", uses, expires_at AS "expiresAt", revoked_at AS "revokedAt", created_at AS "createdAt"`;
const DEVICE_COLUMNS = `device_id AS "deviceId", public_key AS "publicKey", hostname, platform, agent_version AS "agentVersion", device_group AS "group", state, token_id AS "tokenId", enrolled_at AS "enrolledAt", retired_at AS "retiredAt"`;

export function toTokenView(row: TokenRow): EnrollmentToken {
  return { ...row, expiresAt: row.expiresAt.toISOString(), revokedAt: row.revokedAt?.toISOString() ?? null, createdAt: row.createdAt.toISOString() };
}

export function toDeviceView(row: DeviceRow): EnrolledDevice {
  const { tokenId: _token, ...rest } = row;
  return { ...rest, enrolledAt: row.enrolledAt.toISOString(), retiredAt: row.retiredAt?.toISOString() ?? null };
}

/** The only code of the licensing service that speaks SQL to the enrollment tables. */
@Injectable()
export class EnrollmentRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  transaction<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  async insertToken(token: Omit<TokenRow, 'uses' | 'revokedAt' | 'createdAt'> & { hash: Buffer }): Promise<TokenRow> {
    const rows = await queryRows<TokenRow>(
      this.dataSource,
      `INSERT INTO licensing.enrollment_tokens (id, name, token_hash, device_group, max_uses, expires_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${TOKEN_COLUMNS}`,
      [token.id, token.name, token.hash, token.group, token.maxUses, token.expiresAt],
    );
    return rows[0]!;
  }

  /** The token with this hash, locked until the transaction ends (two devices never take its last use). */
  async lockTokenByHash(m: EntityManager, hash: Buffer): Promise<TokenRow | null> {
    const rows = await queryRows<TokenRow>(m, `SELECT ${TOKEN_COLUMNS} FROM licensing.enrollment_tokens WHERE token_hash = $1 FOR UPDATE`, [hash]);
    return rows[0] ?? null;
  }

  async useToken(m: EntityManager, id: string): Promise<void> {
    await m.query(`UPDATE licensing.enrollment_tokens SET uses = uses + 1 WHERE id = $1`, [id]);
  }

  async revokeToken(id: string, now: Date): Promise<TokenRow | null> {
    const rows = await queryRows<TokenRow>(
      this.dataSource,
      `UPDATE licensing.enrollment_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 RETURNING ${TOKEN_COLUMNS}`,
      [id, now],
    );
    return rows[0] ?? null;
  }

  async listTokens(page: { limit: number; offset: number }): Promise<{ rows: TokenRow[]; total: number }> {
    const rows = await queryRows<TokenRow>(this.dataSource, `SELECT ${TOKEN_COLUMNS} FROM licensing.enrollment_tokens ORDER BY created_at DESC, id LIMIT $1 OFFSET $2`, [page.limit, page.offset]);
    const [count] = await queryRows<{ n: number }>(this.dataSource, `SELECT count(*)::int AS n FROM licensing.enrollment_tokens`);
    return { rows, total: count!.n };
  }

  async lockDevice(m: EntityManager, deviceId: string): Promise<DeviceRow | null> {
    const rows = await queryRows<DeviceRow>(m, `SELECT ${DEVICE_COLUMNS} FROM licensing.enrolled_devices WHERE device_id = $1 FOR UPDATE`, [deviceId]);
    return rows[0] ?? null;
  }

  async findDevice(deviceId: string): Promise<DeviceRow | null> {
    const rows = await queryRows<DeviceRow>(this.dataSource, `SELECT ${DEVICE_COLUMNS} FROM licensing.enrolled_devices WHERE device_id = $1`, [deviceId]);
    return rows[0] ?? null;
  }

  /** Enrolls the device, or enrolls a retired one again (a new key, a new token, active again). */
  async upsertDevice(m: EntityManager, device: Omit<DeviceRow, 'state' | 'retiredAt'>): Promise<DeviceRow> {
    const rows = await queryRows<DeviceRow>(
      m,
      `INSERT INTO licensing.enrolled_devices (device_id, public_key, hostname, platform, agent_version, device_group, state, token_id, enrolled_at)
       VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $8)
       ON CONFLICT (device_id) DO UPDATE SET public_key = EXCLUDED.public_key, hostname = EXCLUDED.hostname, platform = EXCLUDED.platform,
         agent_version = EXCLUDED.agent_version, device_group = EXCLUDED.device_group, state = 'active', token_id = EXCLUDED.token_id,
         enrolled_at = EXCLUDED.enrolled_at, retired_at = NULL
       RETURNING ${DEVICE_COLUMNS}`,
      [device.deviceId, device.publicKey, device.hostname, device.platform, device.agentVersion, device.group, device.tokenId, device.enrolledAt],
    );
    return rows[0]!;
  }

  async retireDevice(m: EntityManager, deviceId: string, now: Date): Promise<DeviceRow> {
    const rows = await queryRows<DeviceRow>(m, `UPDATE licensing.enrolled_devices SET state = 'retired', retired_at = $2 WHERE device_id = $1 RETURNING ${DEVICE_COLUMNS}`, [deviceId, now]);
    return rows[0]!;
  }

  async revokeKey(m: EntityManager, publicKey: string, deviceId: string, now: Date): Promise<void> {
    await m.query(`INSERT INTO licensing.revoked_keys (public_key, device_id, revoked_at) VALUES ($1, $2, $3) ON CONFLICT (public_key) DO UPDATE SET revoked_at = EXCLUDED.revoked_at`, [publicKey, deviceId, now]);
  }

  async listDevices(page: { limit: number; offset: number; state?: EnrolledDevice['state'] }): Promise<{ rows: DeviceRow[]; total: number }> {
    const where = page.state ? 'WHERE state = $3' : '';
    const params = page.state ? [page.limit, page.offset, page.state] : [page.limit, page.offset];
    const rows = await queryRows<DeviceRow>(this.dataSource, `SELECT ${DEVICE_COLUMNS} FROM licensing.enrolled_devices ${where} ORDER BY device_id LIMIT $1 OFFSET $2`, params);
    const [count] = await queryRows<{ n: number }>(this.dataSource, `SELECT count(*)::int AS n FROM licensing.enrolled_devices ${where.replace('$3', '$1')}`, page.state ? [page.state] : []);
    return { rows, total: count!.n };
  }
}
