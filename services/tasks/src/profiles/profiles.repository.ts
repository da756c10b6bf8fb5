import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { queryRows } from '@fleetcast/persistence';
import { DataSource, EntityManager } from 'typeorm';
import { AgentSettings, Profile } from '@fleetcast/contracts';

interface ProfileRow {
  id: string;
  name: string;
  is_default: boolean;
  use_multicast: boolean;
  session_start_delay_seconds: number;
  peer_download_allowed: boolean;
  lan_rate_limit_kbps: number | null;
  cache_size_limit_bytes: string | null;
  updated_at: Date;
}

const toProfile = (r: ProfileRow): Profile => ({
  id: r.id,
  name: r.name,
  isDefault: r.is_default,
  useMulticast: r.use_multicast,
  sessionStartDelaySeconds: r.session_start_delay_seconds,
  peerDownloadAllowed: r.peer_download_allowed,
  lanRateLimitKbps: r.lan_rate_limit_kbps,
  cacheSizeLimitBytes: r.cache_size_limit_bytes === null ? null : Number(r.cache_size_limit_bytes),
  updatedAt: r.updated_at.toISOString(),
});

const COLUMNS = `id, name, is_default, use_multicast, session_start_delay_seconds, peer_download_allowed, lan_rate_limit_kbps, cache_size_limit_bytes, updated_at`;

@Injectable()
export class ProfilesRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async insert(id: string, name: string, s: AgentSettings): Promise<Profile> {
    const rows = await queryRows<ProfileRow>(this.db, 
      `INSERT INTO tasks.profiles (id, name, use_multicast, session_start_delay_seconds, peer_download_allowed, lan_rate_limit_kbps, cache_size_limit_bytes)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
      [id, name, s.useMulticast, s.sessionStartDelaySeconds, s.peerDownloadAllowed, s.lanRateLimitKbps, s.cacheSizeLimitBytes],
    );
    return toProfile(rows[0]);
  }

  async update(id: string, name: string, s: AgentSettings): Promise<Profile | null> {
    const rows = await queryRows<ProfileRow>(this.db, 
      `UPDATE tasks.profiles SET name = $2, use_multicast = $3, session_start_delay_seconds = $4, peer_download_allowed = $5,
         lan_rate_limit_kbps = $6, cache_size_limit_bytes = $7, updated_at = now()
       WHERE id = $1 RETURNING ${COLUMNS}`,
      [id, name, s.useMulticast, s.sessionStartDelaySeconds, s.peerDownloadAllowed, s.lanRateLimitKbps, s.cacheSizeLimitBytes],
    );
    return rows[0] ? toProfile(rows[0]) : null;
  }

  async find(id: string, manager: EntityManager = this.db.manager): Promise<Profile | null> {
    const rows = await queryRows<ProfileRow>(manager, `SELECT ${COLUMNS} FROM tasks.profiles WHERE id = $1`, [id]);
    return rows[0] ? toProfile(rows[0]) : null;
  }

  async findDefault(manager: EntityManager = this.db.manager): Promise<Profile> {
    const rows = await queryRows<ProfileRow>(manager, `SELECT ${COLUMNS} FROM tasks.profiles WHERE is_default`);
    return toProfile(rows[0]);
  }

  async list(limit: number, offset: number): Promise<{ items: Profile[]; total: number }> {
    const rows = await queryRows<ProfileRow>(this.db, `SELECT ${COLUMNS} FROM tasks.profiles ORDER BY is_default DESC, name, id LIMIT $1 OFFSET $2`, [limit, offset]);
    const [{ count }] = await this.db.query(`SELECT count(*)::int AS count FROM tasks.profiles`);
    return { items: rows.map(toProfile), total: count };
  }
}
