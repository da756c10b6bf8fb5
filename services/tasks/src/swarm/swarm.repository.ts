import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { queryRows } from '@fleetcast/persistence';
import { DataSource } from 'typeorm';
import { BlockRun, SwarmPeer } from '@fleetcast/contracts';

export interface SwarmTarget {
  contentId: string;
  size: number;
  /** The office recorded for the device in the task (null: none). */
  office: { id: string; name: string } | null;
}

export interface Holding {
  contentId: string;
  deviceId: string;
  officeId: string;
  url: string | null;
  complete: boolean;
  runs: BlockRun[];
}

export interface UpstreamLease {
  deviceId: string;
  expiresAt: Date;
}

/** The swarm's soft state in Postgres, so that every tasks instance answers from the same view. */
@Injectable()
export class SwarmRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** The content of a task the device is a target of; null when it is none (or the task has no ready package). */
  async targetContent(taskId: string, deviceId: string): Promise<SwarmTarget | null> {
    const rows = await queryRows<{ content_id: string; size: string; office_id: string | null; office_name: string | null }>(
      this.db,
      `SELECT p.content_id, p.size, d.office_id, d.office_name FROM tasks.device_tasks d JOIN tasks.tasks t ON t.id = d.task_id JOIN tasks.packages p ON p.id = t.package_id
       WHERE d.task_id = $1 AND d.device_id = $2 AND p.content_id IS NOT NULL`,
      [taskId, deviceId],
    );
    const r = rows[0];
    if (!r) return null;
    return { contentId: r.content_id, size: Number(r.size), office: r.office_id === null ? null : { id: r.office_id, name: r.office_name ?? r.office_id } };
  }

  /** Records the office a device is in for a task (null: none known); see TasksRepository.summaryRows. */
  async recordOffice(taskId: string, deviceId: string, office: { id: string; name: string } | null): Promise<void> {
    await this.db.query(`UPDATE tasks.device_tasks SET office_id = $3, office_name = $4 WHERE task_id = $1 AND device_id = $2`, [
      taskId,
      deviceId,
      office?.id ?? null,
      office?.name ?? null,
    ]);
  }

  async saveHolding(h: Holding): Promise<void> {
    await this.db.query(
      `INSERT INTO tasks.swarm_holdings (content_id, device_id, office_id, url, complete, runs, updated_at) VALUES ($1, $2, $3, $4, $5, $6, now())
       ON CONFLICT (content_id, device_id) DO UPDATE SET office_id = EXCLUDED.office_id, url = EXCLUDED.url, complete = EXCLUDED.complete, runs = EXCLUDED.runs, updated_at = now()`,
      [h.contentId, h.deviceId, h.officeId, h.url, h.complete, JSON.stringify(h.runs)],
    );
  }

  async dropHolding(contentId: string, deviceId: string): Promise<void> {
    await this.db.query(`DELETE FROM tasks.swarm_holdings WHERE content_id = $1 AND device_id = $2`, [contentId, deviceId]);
  }

  /**
   * Devices of an office that serve blocks of the content, complete ones first, then the most
   * recently heard: a partial holder counts while it announced within `partialFreshSeconds` (it
   * announces every second while it downloads), a complete one for `completeFreshSeconds`.
   */
  async holders(contentId: string, officeId: string, exceptDeviceId: string, limit: number, partialFreshSeconds: number, completeFreshSeconds: number): Promise<SwarmPeer[]> {
    const rows = await queryRows<{ device_id: string; url: string; complete: boolean; runs: BlockRun[] }>(
      this.db,
      `SELECT device_id, url, complete, runs FROM tasks.swarm_holdings
       WHERE content_id = $1 AND office_id = $2 AND device_id <> $3 AND url IS NOT NULL
         AND updated_at > now() - make_interval(secs => CASE WHEN complete THEN $5::int ELSE $4::int END)
         AND (complete OR jsonb_array_length(runs) > 0)
       ORDER BY complete DESC, updated_at DESC LIMIT $6`,
      [contentId, officeId, exceptDeviceId, partialFreshSeconds, completeFreshSeconds, limit],
    );
    return rows.map((r) => ({ deviceId: r.device_id, url: r.url, complete: r.complete, runs: r.complete ? [] : r.runs }));
  }

  /**
   * Takes or renews the office's upstream lease for the device, unless another device holds it
   * unexpired; returns whoever holds it after the attempt.
   */
  async acquireUpstream(contentId: string, officeId: string, deviceId: string, leaseSeconds: number): Promise<UpstreamLease | null> {
    const taken = await queryRows<{ device_id: string; expires_at: Date }>(
      this.db,
      `INSERT INTO tasks.swarm_upstream AS u (content_id, office_id, device_id, expires_at) VALUES ($1, $2, $3, now() + make_interval(secs => $4::int))
       ON CONFLICT (content_id, office_id) DO UPDATE SET device_id = EXCLUDED.device_id, expires_at = EXCLUDED.expires_at
       WHERE u.expires_at < now() OR u.device_id = EXCLUDED.device_id
       RETURNING device_id, expires_at`,
      [contentId, officeId, deviceId, leaseSeconds],
    );
    if (taken[0]) return { deviceId: taken[0].device_id, expiresAt: taken[0].expires_at };
    return this.upstream(contentId, officeId);
  }

  /** The unexpired lease of the office, if any. */
  async upstream(contentId: string, officeId: string): Promise<UpstreamLease | null> {
    const rows = await queryRows<{ device_id: string; expires_at: Date }>(
      this.db,
      `SELECT device_id, expires_at FROM tasks.swarm_upstream WHERE content_id = $1 AND office_id = $2 AND expires_at >= now()`,
      [contentId, officeId],
    );
    return rows[0] ? { deviceId: rows[0].device_id, expiresAt: rows[0].expires_at } : null;
  }

  /** Gives the lease up (the device completed, or stalled), so that another takes it at once. */
  async releaseUpstream(contentId: string, officeId: string, deviceId: string): Promise<void> {
    await this.db.query(`DELETE FROM tasks.swarm_upstream WHERE content_id = $1 AND office_id = $2 AND device_id = $3`, [contentId, officeId, deviceId]);
  }
}
