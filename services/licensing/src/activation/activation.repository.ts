import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import type { Activation, ActivationResult, ActivationStep } from '@fleetcast/contracts';
import { queryRows } from '@fleetcast/persistence';
import { ActivationProgress } from './activation-steps';

interface ActivationRow {
  id: string;
  state: Activation['state'];
  started_by: string;
  origin_addresses: string[] | null;
  started_at: Date;
  finished_at: Date | null;
  steps: ActivationStep[];
  progress: ActivationProgress;
  result: ActivationResult | null;
  error: { code: string; message: string } | null;
}

/** An activation as the runner holds it: what the API shows, plus what it resumes from. */
export interface StoredActivation extends Activation {
  originAddresses: string[] | null;
  progress: ActivationProgress;
}

const COLUMNS = 'id, state, started_by, origin_addresses, started_at, finished_at, steps, progress, result, error';

@Injectable()
export class ActivationRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  transaction<T>(fn: (m: EntityManager) => Promise<T>): Promise<T> {
    return this.db.transaction(fn);
  }

  /** A new running activation, or null when one is running already (one at a time: a unique index). */
  async insertRunning(a: { id: string; startedBy: string; originAddresses: string[] | null; steps: ActivationStep[] }): Promise<StoredActivation | null> {
    const [row] = await queryRows<ActivationRow>(
      this.db,
      `INSERT INTO licensing.activations (id, state, started_by, origin_addresses, steps) VALUES ($1, 'running', $2, $3, $4::jsonb)
       ON CONFLICT DO NOTHING RETURNING ${COLUMNS}`,
      [a.id, a.startedBy, a.originAddresses, JSON.stringify(a.steps)],
    );
    return row === undefined ? null : toActivation(row);
  }

  async find(id: string): Promise<StoredActivation | null> {
    const [row] = await queryRows<ActivationRow>(this.db, `SELECT ${COLUMNS} FROM licensing.activations WHERE id = $1`, [id]);
    return row === undefined ? null : toActivation(row);
  }

  async running(): Promise<StoredActivation | null> {
    const [row] = await queryRows<ActivationRow>(this.db, `SELECT ${COLUMNS} FROM licensing.activations WHERE state = 'running'`);
    return row === undefined ? null : toActivation(row);
  }

  async latest(): Promise<StoredActivation | null> {
    const [row] = await queryRows<ActivationRow>(this.db, `SELECT ${COLUMNS} FROM licensing.activations ORDER BY started_at DESC, id LIMIT 1`);
    return row === undefined ? null : toActivation(row);
  }

  /**
   * Takes the running activation for `leaseMs` when no other instance holds it (its lease ended:
   * that instance died, or this is the first run). Null when there is none to take.
   */
  async claim(leaseMs: number): Promise<StoredActivation | null> {
    const [row] = await queryRows<ActivationRow>(
      this.db,
      `UPDATE licensing.activations SET locked_until = now() + make_interval(secs => $1::double precision / 1000)
       WHERE state = 'running' AND (locked_until IS NULL OR locked_until < now())
       RETURNING ${COLUMNS}`,
      [leaseMs],
    );
    return row === undefined ? null : toActivation(row);
  }

  /** Stores the steps and progress so far and extends the lease; false when the activation is no longer running. */
  async save(id: string, steps: ActivationStep[], progress: ActivationProgress, leaseMs: number): Promise<boolean> {
    const rows = await queryRows<{ id: string }>(
      this.db,
      `UPDATE licensing.activations SET steps = $2::jsonb, progress = $3::jsonb, locked_until = now() + make_interval(secs => $4::double precision / 1000)
       WHERE id = $1 AND state = 'running' RETURNING id`,
      [id, JSON.stringify(steps), JSON.stringify(progress), leaseMs],
    );
    return rows.length > 0;
  }

  /** Lets go of the lease: the next poll of any instance takes the activation up again. */
  async release(id: string): Promise<void> {
    await this.db.query(`UPDATE licensing.activations SET locked_until = NULL WHERE id = $1 AND state = 'running'`, [id]);
  }

  /** Ends it, in the caller's transaction; false when it was not running (another instance ended it). */
  async finish(m: EntityManager, id: string, end: { state: 'completed' | 'failed'; steps: ActivationStep[]; progress: ActivationProgress; result: ActivationResult | null; error: { code: string; message: string } | null }): Promise<boolean> {
    const rows = await queryRows<{ id: string }>(
      m,
      `UPDATE licensing.activations SET state = $2, steps = $3::jsonb, progress = $4::jsonb, result = $5::jsonb, error = $6::jsonb, finished_at = now(), locked_until = NULL
       WHERE id = $1 AND state = 'running' RETURNING id`,
      [id, end.state, JSON.stringify(end.steps), JSON.stringify(end.progress), end.result === null ? null : JSON.stringify(end.result), end.error === null ? null : JSON.stringify(end.error)],
    );
    return rows.length > 0;
  }

  /**
   * Marks the enrolled, not retired devices that no activation marked yet. Returns the devices this
   * activation marked (counted, so a repeat after a crash reports the same) and the active ones in all.
   */
  async activateDevices(activationId: string): Promise<{ activated: number; active: number }> {
    await this.db.query(`UPDATE licensing.enrolled_devices SET activation_id = $1 WHERE state = 'active' AND activation_id IS NULL`, [activationId]);
    const [counts] = await queryRows<{ activated: number; active: number }>(
      this.db,
      `SELECT count(*) FILTER (WHERE activation_id = $1)::int AS activated, count(*) FILTER (WHERE activation_id IS NOT NULL)::int AS active
       FROM licensing.enrolled_devices WHERE state = 'active'`,
      [activationId],
    );
    return counts!;
  }
}

function toActivation(row: ActivationRow): StoredActivation {
  return {
    id: row.id,
    state: row.state,
    startedBy: row.started_by,
    startedAt: row.started_at.toISOString(),
    finishedAt: row.finished_at?.toISOString() ?? null,
    steps: row.steps,
    error: row.error,
    result: row.result,
    originAddresses: row.origin_addresses,
    progress: row.progress,
  };
}
