import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { queryRows } from '@fleetcast/persistence';
import { DataSource, EntityManager } from 'typeorm';
import {
  BytesBySource,
  DeviceStatusV2,
  emptyBytesBySource,
  DeviceTask,
  DeviceTaskState,
  ErrorCode,
  ListTasksQuery,
  TargetExclusion,
  TASK_CANCELLED_REASON,
  TASK_RETRIED_REASON,
  TaskAction,
} from '@fleetcast/contracts';
import { OfficeRow, StateReason, SubnetLanIssue, SubnetRepresentative, SummaryRow, TaskRecord } from './task-model';

/** A device's report as applied, with the state it replaced. */
export interface AppliedReport {
  taskId: string;
  deviceId: string;
  state: DeviceTaskState;
  previousState: DeviceTaskState;
  reason: { code: string; message: string } | null;
  bytes: BytesBySource;
  /** The device's subnet in the task, and what this report added to its bytes (for the hourly figures). */
  subnet: string | null;
  added: BytesBySource;
  /** The office recorded for the device in the task; null: none known yet. */
  officeId: string | null;
}

/** The office a device is in for a task (null: none known). */
export interface DeviceOfficeRecord {
  taskId: string;
  deviceId: string;
  office: { id: string; name: string } | null;
}

/** Bytes by source of a row with bytes_origin, bytes_parent, bytes_multicast and bytes_peer (bigint as text). */
const bytesOfRow = (r: { bytes_origin: string; bytes_parent: string; bytes_multicast: string; bytes_peer: string }): BytesBySource => ({
  origin: Number(r.bytes_origin),
  parent: Number(r.bytes_parent),
  multicast: Number(r.bytes_multicast),
  peer: Number(r.bytes_peer),
});

/** A device task a cancel or a retry changed, with the state it had before. */
export interface ChangedDeviceTask {
  deviceId: string;
  state: DeviceTaskState;
  previousState: DeviceTaskState;
  reason: { code: string; message: string } | null;
  bytes: BytesBySource;
  attempt: number;
  /** Whether the device had been sent the task (a cancellation goes only to those). */
  sent: boolean;
}

/** A task's status with its counts and bytes over all its devices: what a live update says. */
export interface TaskCounts {
  taskId: string;
  status: TaskRecord['status'];
  total: number;
  counts: Partial<Record<DeviceTaskState, number>>;
  bytes: BytesBySource;
}

/** A task just marked completed, with its final counts. */
export interface CompletedTask {
  taskId: string;
  name: string;
  packageId: string;
  action: TaskAction;
  devices: number;
  succeeded: number;
  failed: number;
}

interface TaskRow {
  id: string;
  name: string;
  package_id: string;
  action: TaskRecord['action'];
  status: TaskRecord['status'];
  profile_id: string | null;
  start_at: Date;
  created_at: Date;
}

const toTask = (r: TaskRow): TaskRecord => ({
  id: r.id,
  name: r.name,
  packageId: r.package_id,
  action: r.action,
  status: r.status,
  profileId: r.profile_id,
  startAt: r.start_at,
  createdAt: r.created_at,
});

const TASK_COLUMNS = `id, name, package_id, action, status, profile_id, start_at, created_at`;

interface ChangedRow {
  device_id: string;
  seq: number;
  state: DeviceTaskState;
  old_state: DeviceTaskState;
  reason: { code: string; message: string } | null;
  bytes_origin: string;
  bytes_parent: string;
  bytes_multicast: string;
  bytes_peer: string;
  attempt: number;
  sent: boolean;
}

/** What a cancel or a retry returns of each row it changed (`o` is the row as it was: a self-join in FROM). */
const CHANGED_COLUMNS = `d.device_id, d.seq, d.state, o.state AS old_state, d.reason, d.bytes_origin, d.bytes_parent, d.bytes_multicast, d.bytes_peer, d.attempt, o.sent_at IS NOT NULL AS sent`;

const toChanged = (r: ChangedRow): ChangedDeviceTask => ({
  deviceId: r.device_id,
  state: r.state,
  previousState: r.old_state,
  reason: r.reason,
  bytes: bytesOfRow(r),
  attempt: r.attempt,
  sent: r.sent,
});

/** All SQL of the tasks feature. Bulk paths use one statement per batch, never one per row. */
@Injectable()
export class TasksRepository {
  constructor(@InjectDataSource() readonly db: DataSource) {}

  transaction<T>(fn: (m: EntityManager) => Promise<T>): Promise<T> {
    return this.db.transaction(fn);
  }

  /** Reads in one snapshot (REPEATABLE READ): several queries see the same committed state. */
  snapshot<T>(fn: (m: EntityManager) => Promise<T>): Promise<T> {
    return this.db.transaction('REPEATABLE READ', fn);
  }

  async insertTask(m: EntityManager, t: TaskRecord, lanKey: Buffer): Promise<void> {
    await m.query(
      `INSERT INTO tasks.tasks (id, name, package_id, action, status, profile_id, start_at, created_at, lan_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [t.id, t.name, t.packageId, t.action, t.status, t.profileId, t.startAt, t.createdAt, lanKey],
    );
  }

  /** The task's LAN key and the device's subnet peers among the task's targets; null if not a target. */
  async lanSession(taskId: string, deviceId: string): Promise<{ key: Buffer; subnet: string | null; subnetDeviceIds: string[] } | null> {
    const rows = await queryRows<{ lan_key: Buffer; subnet: string | null }>(
      this.db,
      `SELECT t.lan_key, d.subnet FROM tasks.tasks t JOIN tasks.device_tasks d ON d.task_id = t.id WHERE t.id = $1 AND d.device_id = $2`,
      [taskId, deviceId],
    );
    if (!rows[0]) return null;
    const { lan_key: key, subnet } = rows[0];
    const peers =
      subnet === null
        ? [{ device_id: deviceId }]
        : // A target kept out of distribution never gets the task: the session must not wait for it to join.
          await queryRows<{ device_id: string }>(
            this.db,
            `SELECT device_id FROM tasks.device_tasks WHERE task_id = $1 AND subnet = $2 AND (reason->>'code') IS DISTINCT FROM $3 ORDER BY device_id`,
            [taskId, subnet, ErrorCode.AgentUnsupportedVersion],
          );
    return { key, subnet, subnetDeviceIds: peers.map((p) => p.device_id) };
  }

  /**
   * One row per target device, state `pending`; `sent` is set when the assignment goes out now, with
   * when its first resend is due (null: none).
   */
  async insertDeviceTasks(
    m: EntityManager,
    taskId: string,
    devices: Array<{ deviceId: string; subnet: string | null }>,
    sent: { at: Date; firstResendAt: Date | null } | null,
  ): Promise<void> {
    await m.query(
      `INSERT INTO tasks.device_tasks (task_id, device_id, subnet, state, sent_at, next_resend_at)
       SELECT $1, x.device_id, x.subnet, 'pending', $3, $4 FROM jsonb_to_recordset($2::jsonb) AS x(device_id text, subnet text)`,
      [taskId, JSON.stringify(devices.map((d) => ({ device_id: d.deviceId, subnet: d.subnet }))), sent?.at ?? null, sent?.firstResendAt ?? null],
    );
  }

  async findTask(id: string, m: EntityManager = this.db.manager): Promise<TaskRecord | null> {
    const rows = await queryRows<TaskRow>(m, `SELECT ${TASK_COLUMNS} FROM tasks.tasks WHERE id = $1`, [id]);
    return rows[0] ? toTask(rows[0]) : null;
  }

  /** Newest first, filtered by status, package and creation time ([createdAfter, createdBefore)); the total counts the matches. */
  async listTasks(query: ListTasksQuery): Promise<{ items: TaskRecord[]; total: number }> {
    const where = `($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR package_id = $2)
       AND ($3::timestamptz IS NULL OR created_at >= $3) AND ($4::timestamptz IS NULL OR created_at < $4)`;
    const filters = [query.status ?? null, query.packageId ?? null, query.createdAfter ?? null, query.createdBefore ?? null];
    const rows = await queryRows<TaskRow>(this.db, `SELECT ${TASK_COLUMNS} FROM tasks.tasks WHERE ${where} ORDER BY created_at DESC, id LIMIT $5 OFFSET $6`, [
      ...filters,
      query.limit,
      query.offset,
    ]);
    const [{ count }] = await this.db.query(`SELECT count(*)::int AS count FROM tasks.tasks WHERE ${where}`, filters);
    return { items: rows.map(toTask), total: count };
  }

  /** Scheduled tasks whose time has come, claimed so that one instance issues each. */
  async claimDueTasks(m: EntityManager, now: Date, limit: number): Promise<TaskRecord[]> {
    const rows = await queryRows<TaskRow>(m, 
      `UPDATE tasks.tasks SET status = 'active' WHERE id IN (
         SELECT id FROM tasks.tasks WHERE status = 'scheduled' AND start_at <= $1 ORDER BY start_at LIMIT $2 FOR UPDATE SKIP LOCKED
       ) RETURNING ${TASK_COLUMNS}`,
      [now, limit],
    );
    return rows.map(toTask);
  }

  /** The targets still waiting for the task's assignment (not those failed at creation, kept out of distribution). */
  async deviceIdsOf(m: EntityManager, taskId: string): Promise<string[]> {
    const rows = await queryRows<{ device_id: string }>(m, `SELECT device_id FROM tasks.device_tasks WHERE task_id = $1 AND state = 'pending'`, [taskId]);
    return rows.map((r) => r.device_id);
  }

  /**
   * Targets kept out of distribution, one row each, already `failed` with the reason the inventory
   * gave: never sent an assignment, never resent (only `pending` rows are), and counted and listed
   * with the task's other devices.
   */
  async insertExcludedDeviceTasks(m: EntityManager, taskId: string, devices: Array<{ deviceId: string; subnet: string | null; reason: TargetExclusion }>): Promise<void> {
    if (devices.length === 0) return;
    await m.query(
      `INSERT INTO tasks.device_tasks (task_id, device_id, subnet, state, reason)
       SELECT $1, x.device_id, x.subnet, 'failed', x.reason FROM jsonb_to_recordset($2::jsonb) AS x(device_id text, subnet text, reason jsonb)`,
      [taskId, JSON.stringify(devices.map((d) => ({ device_id: d.deviceId, subnet: d.subnet, reason: { code: d.reason.code, message: d.reason.message } })))],
    );
  }

  /** The first copy of a scheduled task's assignments went out: stamped, with when the first resend is due. */
  async markSent(m: EntityManager, taskId: string, at: Date, firstResendAt: Date | null): Promise<void> {
    await m.query(`UPDATE tasks.device_tasks SET sent_at = $2, resend_count = 0, next_resend_at = $3 WHERE task_id = $1 AND state = 'pending'`, [taskId, at, firstResendAt]);
  }

  /**
   * Assignments whose next resend is due at `now` and still not acknowledged; claimed, stamped as
   * sent again, counted, and given the next due time from `delaysSeconds` (the resend schedule:
   * element n is the delay after the n-th resend; past its end, null: no more resends). A due row of
   * a task whose assignments are no longer valid (started, or created, at or before `validSince`) is
   * not returned (a device would refuse the copy) and waits for no further resend, so that the
   * claim's index keeps only rows that can still be due.
   */
  async claimUnacknowledged(m: EntityManager, now: Date, limit: number, validSince: Date, delaysSeconds: readonly number[]): Promise<Array<{ taskId: string; deviceId: string; resend: number }>> {
    const rows = await queryRows<{ task_id: string; device_id: string; resend_count: number; valid: boolean }>(m,
      `UPDATE tasks.device_tasks d SET
         sent_at = CASE WHEN due.valid THEN $1::timestamptz ELSE d.sent_at END,
         resend_count = CASE WHEN due.valid THEN d.resend_count + 1 ELSE d.resend_count END,
         -- SQL arrays count from 1 and give NULL past their end: the cap.
         next_resend_at = CASE WHEN due.valid THEN $1::timestamptz + ($4::int[])[d.resend_count + 2] * interval '1 second' END
       FROM (
         SELECT dt.task_id, dt.device_id, GREATEST(t.start_at, t.created_at) > $3 AS valid
         FROM tasks.device_tasks dt JOIN tasks.tasks t ON t.id = dt.task_id
         WHERE dt.state = 'pending' AND dt.next_resend_at <= $1::timestamptz
         ORDER BY dt.next_resend_at LIMIT $2 FOR UPDATE OF dt SKIP LOCKED
       ) due WHERE d.task_id = due.task_id AND d.device_id = due.device_id
       RETURNING d.task_id, d.device_id, d.resend_count, due.valid`,
      [now, limit, validSince, delaysSeconds],
    );
    return rows.filter((r) => r.valid).map((r) => ({ taskId: r.task_id, deviceId: r.device_id, resend: r.resend_count }));
  }

  /**
   * Applies status reports in one statement. A report changes a row only if its seq is higher than
   * the stored one, so a redelivered or out-of-order report changes nothing. Returns the tasks touched.
   */
  /**
   * Applies reports newer than what each device said last; returns the rows changed with the state
   * each had before (a self-join of the table in FROM sees the row as it was before the update).
   */
  async applyReports(m: EntityManager, reports: DeviceStatusV2[]): Promise<AppliedReport[]> {
    if (reports.length === 0) return [];
    const rows = await queryRows<{
      task_id: string;
      device_id: string;
      seq: number;
      state: DeviceTaskState;
      old_state: DeviceTaskState;
      reason: { code: string; message: string } | null;
      old_reason: { code: string; message: string } | null;
      bytes_origin: string;
      bytes_parent: string;
      bytes_multicast: string;
      bytes_peer: string;
      subnet: string | null;
      office_id: string | null;
      add_origin: string;
      add_parent: string;
      add_multicast: string;
      add_peer: string;
    }>(m, 
      `UPDATE tasks.device_tasks d SET state = v.state, seq = v.seq, reason = v.reason, bytes_origin = v.bo, bytes_multicast = v.bm,
         bytes_peer = v.bp, bytes_parent = v.bpa, hash_verified = v.hv, exit_code = v.ec, output_tail = v.ot, updated_at = now(),
         -- A report without LAN activity (version 1) leaves what an earlier report said.
         lan_role = COALESCE(v.lr, d.lan_role), lan_session_started_at = COALESCE(v.ls, d.lan_session_started_at),
         lan_bytes_sent = COALESCE(v.lb, d.lan_bytes_sent), lan_repairs = COALESCE(v.lrp, d.lan_repairs),
         lan_invalid_packets = COALESCE(v.li, d.lan_invalid_packets),
         -- A report with LAN activity says the issue as it is now (null: none); one without leaves it.
         lan_issue_code = CASE WHEN v.lr IS NULL THEN d.lan_issue_code ELSE v.lic END,
         lan_issue_message = CASE WHEN v.lr IS NULL THEN d.lan_issue_message ELSE v.lim END
       FROM jsonb_to_recordset($1::jsonb) AS v(task_id text, device_id text, state text, seq int, reason jsonb, bo bigint, bm bigint, bp bigint, bpa bigint, hv boolean, ec int, ot text,
         lr text, ls timestamptz, lb bigint, lrp bigint, li bigint, lic text, lim text),
         tasks.device_tasks o
       WHERE d.task_id = v.task_id AND d.device_id = v.device_id AND d.seq < v.seq AND o.task_id = d.task_id AND o.device_id = d.device_id
         -- A cancelled target takes only a final report: the agent's confirmation, or the outcome of
         -- an install that had already started; a progress report still in flight is too late.
         AND (o.state <> 'cancelled' OR v.state IN ('cancelled', 'succeeded', 'failed'))
       RETURNING d.task_id, d.device_id, d.seq, d.state, o.state AS old_state, d.reason, o.reason AS old_reason,
         d.bytes_origin, d.bytes_parent, d.bytes_multicast, d.bytes_peer, d.subnet, d.office_id,
         greatest(d.bytes_origin - o.bytes_origin, 0) AS add_origin, greatest(d.bytes_parent - o.bytes_parent, 0) AS add_parent,
         greatest(d.bytes_multicast - o.bytes_multicast, 0) AS add_multicast, greatest(d.bytes_peer - o.bytes_peer, 0) AS add_peer`,
      [
        JSON.stringify(
          reports.map((r) => ({
            task_id: r.taskId,
            device_id: r.deviceId,
            state: r.state,
            seq: r.seq,
            reason: r.reason,
            bo: r.bytes.origin,
            bm: r.bytes.multicast,
            bp: r.bytes.peer,
            bpa: r.bytes.parent,
            hv: r.hashVerified,
            ec: r.exitCode,
            ot: r.outputTail,
            lr: r.lan?.role ?? null,
            ls: r.lan?.sessionStartedAt ?? null,
            lb: r.lan?.lanBytesSent ?? null,
            lrp: r.lan?.repairs ?? null,
            li: r.lan?.invalidPackets ?? null,
            lic: r.lan?.issue?.code ?? null,
            lim: r.lan?.issue?.message ?? null,
          })),
        ),
      ],
    );
    // The device's history: a row per change of state or of reason (progress alone adds none).
    const changes = rows.filter((r) => r.state !== r.old_state || JSON.stringify(r.reason) !== JSON.stringify(r.old_reason));
    if (changes.length > 0) {
      await m.query(
        `INSERT INTO tasks.device_task_history (task_id, device_id, seq, state, reason)
         SELECT task_id, device_id, seq, state, reason FROM jsonb_to_recordset($1::jsonb) AS h(task_id text, device_id text, seq int, state text, reason jsonb)`,
        [JSON.stringify(changes.map((r) => ({ task_id: r.task_id, device_id: r.device_id, seq: r.seq, state: r.state, reason: r.reason })))],
      );
    }
    return rows.map((r) => ({
      taskId: r.task_id,
      deviceId: r.device_id,
      state: r.state,
      previousState: r.old_state,
      reason: r.reason,
      bytes: bytesOfRow(r),
      subnet: r.subnet,
      added: { origin: Number(r.add_origin), parent: Number(r.add_parent), multicast: Number(r.add_multicast), peer: Number(r.add_peer) },
      officeId: r.office_id,
    }));
  }

  /**
   * Adds what applied reports said beyond each device's previous report to this hour's row of its
   * subnet (the WAN savings report's figures). Bytes only grow within a task (a retry keeps the
   * running totals); a smaller figure adds nothing. Called after the reports' transaction committed,
   * in a statement of its own: every batch writes the same few subnet rows, and holding their locks
   * inside that transaction would make batches wait on each other with their devices' rows locked.
   * Rows in subnet order, so two statements never deadlock.
   */
  async addBytesByHour(applied: ReadonlyArray<Pick<AppliedReport, 'subnet' | 'added'>>): Promise<void> {
    const sums = new Map<string, { subnet: string; origin: number; parent: number; multicast: number; peer: number }>();
    for (const { subnet, added: a } of applied) {
      if (a.origin + a.parent + a.multicast + a.peer === 0) continue;
      const key = subnet ?? '';
      const sum = sums.get(key) ?? { subnet: key, origin: 0, parent: 0, multicast: 0, peer: 0 };
      sum.origin += a.origin;
      sum.parent += a.parent;
      sum.multicast += a.multicast;
      sum.peer += a.peer;
      sums.set(key, sum);
    }
    if (sums.size === 0) return;
    await this.db.query(
      `INSERT INTO tasks.subnet_bytes_hourly AS h (hour, subnet, bytes_origin, bytes_parent, bytes_multicast, bytes_peer)
       SELECT date_trunc('hour', now()), v.subnet, v.origin, v.parent, v.multicast, v.peer
       FROM jsonb_to_recordset($1::jsonb) AS v(subnet text, origin bigint, parent bigint, multicast bigint, peer bigint)
       ORDER BY v.subnet
       ON CONFLICT (hour, subnet) DO UPDATE SET bytes_origin = h.bytes_origin + EXCLUDED.bytes_origin, bytes_parent = h.bytes_parent + EXCLUDED.bytes_parent,
         bytes_multicast = h.bytes_multicast + EXCLUDED.bytes_multicast, bytes_peer = h.bytes_peer + EXCLUDED.bytes_peer`,
      [JSON.stringify([...sums.values()].sort((a, b) => (a.subnet < b.subnet ? -1 : a.subnet > b.subnet ? 1 : 0)))],
    );
  }

  /** A device's history in a task, oldest first; null when the device is not a target of the task. */
  async deviceHistory(taskId: string, deviceId: string): Promise<Array<{ seq: number; state: DeviceTaskState; reason: { code: string; message: string } | null; at: string }> | null> {
    const [target] = await queryRows<{ created_at: Date }>(
      this.db,
      `SELECT t.created_at FROM tasks.device_tasks d JOIN tasks.tasks t ON t.id = d.task_id WHERE d.task_id = $1 AND d.device_id = $2`,
      [taskId, deviceId],
    );
    if (target === undefined) return null;
    const rows = await queryRows<{ seq: number; state: DeviceTaskState; reason: { code: string; message: string } | null; at: Date }>(
      this.db,
      `SELECT seq, state, reason, at FROM tasks.device_task_history WHERE task_id = $1 AND device_id = $2 ORDER BY id`,
      [taskId, deviceId],
    );
    // Where every device starts: pending since the task was created (no report says so).
    return [{ seq: 0, state: 'pending', reason: null, at: target.created_at.toISOString() }, ...rows.map((r) => ({ seq: r.seq, state: r.state, reason: r.reason, at: r.at.toISOString() }))];
  }

  /**
   * Locks tasks (in one order) for the rest of the transaction, before any of their device rows: a
   * batch of reports takes it first, like a cancel and a retry, so that they run one after the other
   * per task and never deadlock. Without it two batches that finish the last devices of one task at
   * the same time would each see the other's rows as unfinished (READ COMMITTED) and neither
   * complete the task.
   */
  async lockTasks(m: EntityManager, taskIds: string[]): Promise<void> {
    if (taskIds.length > 0) await m.query(`SELECT id FROM tasks.tasks WHERE id = ANY($1) ORDER BY id FOR UPDATE`, [[...taskIds].sort()]);
  }

  /** Marks tasks completed once every device reached a terminal state (the caller holds `lockTasks`); returns those it marked, with their counts. */
  async completeFinished(m: EntityManager, taskIds: string[]): Promise<CompletedTask[]> {
    if (taskIds.length === 0) return [];
    const rows = await queryRows<{ id: string; name: string; package_id: string; action: TaskAction; devices: number; succeeded: number; failed: number }>(
      m,
      `UPDATE tasks.tasks t SET status = 'completed' WHERE t.id = ANY($1) AND t.status = 'active'
         AND NOT EXISTS (SELECT 1 FROM tasks.device_tasks d WHERE d.task_id = t.id AND d.state NOT IN ('succeeded', 'failed', 'cancelled'))
       RETURNING t.id, t.name, t.package_id, t.action,
         (SELECT count(*)::int FROM tasks.device_tasks d WHERE d.task_id = t.id) AS devices,
         (SELECT count(*)::int FROM tasks.device_tasks d WHERE d.task_id = t.id AND d.state = 'succeeded') AS succeeded,
         (SELECT count(*)::int FROM tasks.device_tasks d WHERE d.task_id = t.id AND d.state = 'failed') AS failed`,
      [taskIds],
    );
    return rows.map((r) => ({ taskId: r.id, name: r.name, packageId: r.package_id, action: r.action, devices: r.devices, succeeded: r.succeeded, failed: r.failed }));
  }

  /** The task, locked for the rest of the transaction: a cancel and a retry of one task never interleave. */
  async lockTask(m: EntityManager, id: string): Promise<TaskRecord | null> {
    const rows = await queryRows<TaskRow>(m, `SELECT ${TASK_COLUMNS} FROM tasks.tasks WHERE id = $1 FOR UPDATE`, [id]);
    return rows[0] ? toTask(rows[0]) : null;
  }

  /**
   * Cancels a task: the task and every target not in a final state become `cancelled`, with the
   * reason TASK.CANCELLED, no further resend, and a history entry each. Returns the targets changed.
   */
  async cancelTask(m: EntityManager, taskId: string, message: string): Promise<ChangedDeviceTask[]> {
    await m.query(`UPDATE tasks.tasks SET status = 'cancelled' WHERE id = $1`, [taskId]);
    const rows = await queryRows<ChangedRow>(
      m,
      `UPDATE tasks.device_tasks d SET state = 'cancelled', reason = $2::jsonb, next_resend_at = NULL, updated_at = now()
       FROM tasks.device_tasks o
       WHERE d.task_id = $1 AND d.state NOT IN ('succeeded', 'failed', 'cancelled') AND o.task_id = d.task_id AND o.device_id = d.device_id
       RETURNING ${CHANGED_COLUMNS}`,
      [taskId, JSON.stringify({ code: TASK_CANCELLED_REASON, message })],
    );
    await this.recordHistory(m, taskId, rows);
    return rows.map(toChanged);
  }

  /** The failed targets of a task, by device ID (all of them, or those of `deviceIds` that are targets). */
  async deviceStates(m: EntityManager, taskId: string, deviceIds: string[] | null): Promise<Array<{ deviceId: string; state: DeviceTaskState }>> {
    const rows = await queryRows<{ device_id: string; state: DeviceTaskState }>(
      m,
      `SELECT device_id, state FROM tasks.device_tasks WHERE task_id = $1 AND ($2::text[] IS NULL OR device_id = ANY($2)) ORDER BY device_id`,
      [taskId, deviceIds],
    );
    return rows.map((r) => ({ deviceId: r.device_id, state: r.state }));
  }

  /**
   * Puts failed targets back to `pending` for a new attempt: what the failed attempt reported is
   * cleared but its bytes (running totals over all attempts, as the agent keeps them); `sent` stamps
   * the new assignment going out now (null: the task has not started, its start sends it). A
   * completed task becomes active again. Returns the targets changed, with their new attempt.
   */
  async retryDevices(m: EntityManager, task: TaskRecord, deviceIds: string[], sent: { at: Date; firstResendAt: Date | null } | null): Promise<ChangedDeviceTask[]> {
    if (task.status === 'completed') await m.query(`UPDATE tasks.tasks SET status = 'active' WHERE id = $1`, [task.id]);
    const rows = await queryRows<ChangedRow>(
      m,
      `UPDATE tasks.device_tasks d SET state = 'pending', attempt = d.attempt + 1, reason = NULL, hash_verified = false, exit_code = NULL,
         output_tail = NULL, lan_issue_code = NULL, lan_issue_message = NULL, updated_at = now(),
         sent_at = $3, resend_count = 0, next_resend_at = $4
       FROM tasks.device_tasks o
       WHERE d.task_id = $1 AND d.device_id = ANY($2) AND d.state = 'failed' AND o.task_id = d.task_id AND o.device_id = d.device_id
       RETURNING ${CHANGED_COLUMNS}`,
      [task.id, deviceIds, sent?.at ?? null, sent?.firstResendAt ?? null],
    );
    await this.recordHistory(
      m,
      task.id,
      rows.map((r) => ({ ...r, reason: { code: TASK_RETRIED_REASON, message: `attempt ${r.attempt}` } })),
    );
    return rows.map(toChanged);
  }

  /** Each device's attempt at a task (1 unless retried). */
  async attemptsOf(m: EntityManager, taskId: string, deviceIds: string[]): Promise<Map<string, number>> {
    const rows = await queryRows<{ device_id: string; attempt: number }>(
      m,
      `SELECT device_id, attempt FROM tasks.device_tasks WHERE task_id = $1 AND device_id = ANY($2)`,
      [taskId, deviceIds],
    );
    return new Map(rows.map((r) => [r.device_id, r.attempt]));
  }

  /** History entries for changes made by the control plane (cancel, retry), under the row's current seq. */
  private async recordHistory(m: EntityManager, taskId: string, rows: Array<Pick<ChangedRow, 'device_id' | 'seq' | 'state' | 'reason'>>): Promise<void> {
    if (rows.length === 0) return;
    await m.query(
      `INSERT INTO tasks.device_task_history (task_id, device_id, seq, state, reason)
       SELECT $1, h.device_id, h.seq, h.state, h.reason FROM jsonb_to_recordset($2::jsonb) AS h(device_id text, seq int, state text, reason jsonb)`,
      [taskId, JSON.stringify(rows.map((r) => ({ device_id: r.device_id, seq: r.seq, state: r.state, reason: r.reason })))],
    );
  }

  /** Status, counts and bytes of each task, in one query: what the live updates of a batch say. */
  async taskCounts(taskIds: string[], m: EntityManager = this.db.manager): Promise<TaskCounts[]> {
    if (taskIds.length === 0) return [];
    const rows = await queryRows<{ id: string; status: TaskRecord['status']; state: DeviceTaskState | null; devices: number; origin: string | null; parent: string | null; multicast: string | null; peer: string | null }>(
      m,
      `SELECT t.id, t.status, d.state, count(d.device_id)::int AS devices, sum(d.bytes_origin) AS origin, sum(d.bytes_parent) AS parent,
         sum(d.bytes_multicast) AS multicast, sum(d.bytes_peer) AS peer
       FROM tasks.tasks t LEFT JOIN tasks.device_tasks d ON d.task_id = t.id WHERE t.id = ANY($1) GROUP BY t.id, t.status, d.state`,
      [taskIds],
    );
    const byTask = new Map<string, TaskCounts>();
    for (const r of rows) {
      let t = byTask.get(r.id);
      if (!t) byTask.set(r.id, (t = { taskId: r.id, status: r.status, total: 0, counts: {}, bytes: emptyBytesBySource() }));
      if (r.state === null) continue;
      t.counts[r.state] = r.devices;
      t.total += r.devices;
      t.bytes.origin += Number(r.origin ?? 0);
      t.bytes.parent += Number(r.parent ?? 0);
      t.bytes.multicast += Number(r.multicast ?? 0);
      t.bytes.peer += Number(r.peer ?? 0);
    }
    return [...byTask.values()];
  }

  /**
   * The summary's groups in one scan of the task's rows (GROUPING SETS): devices and bytes per
   * subnet and state, with the LAN figures; and per office recorded for them (null: none known). An
   * office renamed by a later topology may be recorded under both names: the greatest stands.
   */
  async summaryRows(taskId: string, m: EntityManager = this.db.manager): Promise<{ rows: SummaryRow[]; offices: OfficeRow[] }> {
    const rows = await queryRows<{
      by_office: boolean;
      subnet: string | null;
      state: DeviceTaskState;
      office_id: string | null;
      office_name: string | null;
      devices: number;
      bytes_origin: string;
      bytes_parent: string;
      bytes_multicast: string;
      bytes_peer: string;
      lan_sent: string;
      repairs: string;
      invalid: string;
    }>(
      m,
      `SELECT GROUPING(office_id) = 0 AS by_office, subnet, state, office_id, max(office_name) AS office_name, count(*)::int AS devices,
         sum(bytes_origin) AS bytes_origin, sum(bytes_parent) AS bytes_parent, sum(bytes_multicast) AS bytes_multicast, sum(bytes_peer) AS bytes_peer,
         sum(lan_bytes_sent) AS lan_sent, sum(lan_repairs) AS repairs, sum(lan_invalid_packets) AS invalid
       FROM tasks.device_tasks WHERE task_id = $1 GROUP BY GROUPING SETS ((subnet, state), (office_id))`,
      [taskId],
    );
    return {
      rows: rows
        .filter((r) => !r.by_office)
        .map((r) => ({
          subnet: r.subnet,
          state: r.state,
          devices: r.devices,
          origin: Number(r.bytes_origin),
          parent: Number(r.bytes_parent),
          multicast: Number(r.bytes_multicast),
          peer: Number(r.bytes_peer),
          lanBytesSent: Number(r.lan_sent),
          repairs: Number(r.repairs),
          invalidPackets: Number(r.invalid),
        })),
      offices: rows.filter((r) => r.by_office).map((r) => ({ officeId: r.office_id, name: r.office_name, devices: r.devices, bytes: bytesOfRow(r) })),
    };
  }

  /**
   * Records the office each device is in for a task (null: none known), where it differs from what
   * is recorded; with `onlyUnknown`, only where none is recorded yet. A statement of its own, after
   * the reports' transaction: it changes no state, and a failure loses only the office.
   */
  async recordOffices(records: readonly DeviceOfficeRecord[], onlyUnknown: boolean): Promise<void> {
    if (records.length === 0) return;
    await this.db.query(
      `UPDATE tasks.device_tasks d SET office_id = v.office_id, office_name = v.office_name
       FROM jsonb_to_recordset($1::jsonb) AS v(task_id text, device_id text, office_id text, office_name text)
       WHERE d.task_id = v.task_id AND d.device_id = v.device_id
         AND (d.office_id, d.office_name) IS DISTINCT FROM (v.office_id, v.office_name)
         AND (NOT $2::boolean OR d.office_id IS NULL)`,
      [JSON.stringify(records.map((r) => ({ task_id: r.taskId, device_id: r.deviceId, office_id: r.office?.id ?? null, office_name: r.office?.name ?? null }))), onlyUnknown],
    );
  }

  /** Devices whose LAN session fell short, per subnet and issue code, with one device's message. */
  async lanIssues(taskId: string, m: EntityManager = this.db.manager): Promise<SubnetLanIssue[]> {
    const rows = await queryRows<{ subnet: string | null; code: string; message: string; devices: number }>(
      m,
      `SELECT subnet, lan_issue_code AS code, min(lan_issue_message) AS message, count(*)::int AS devices FROM tasks.device_tasks
       WHERE task_id = $1 AND lan_issue_code IS NOT NULL GROUP BY subnet, lan_issue_code ORDER BY subnet, lan_issue_code`,
      [taskId],
    );
    return rows.map((r) => ({ subnet: r.subnet, code: r.code, message: r.message ?? '', devices: r.devices }));
  }

  /** Devices whose last report gave a reason, per state and code, with one device's message. */
  async reasons(taskId: string, m: EntityManager = this.db.manager): Promise<StateReason[]> {
    const rows = await queryRows<{ state: DeviceTaskState; code: string; message: string | null; devices: number }>(
      m,
      `SELECT state, reason->>'code' AS code, min(reason->>'message') AS message, count(*)::int AS devices FROM tasks.device_tasks
       WHERE task_id = $1 AND reason IS NOT NULL AND jsonb_typeof(reason) = 'object' AND reason->>'code' IS NOT NULL
       GROUP BY state, reason->>'code' ORDER BY state, reason->>'code'`,
      [taskId],
    );
    return rows.map((r) => ({ state: r.state, code: r.code, message: r.message ?? '', devices: r.devices }));
  }

  /** Each subnet's representative: the latest to start a session (a new one takes over from a lost one). */
  async representatives(taskId: string, m: EntityManager = this.db.manager): Promise<SubnetRepresentative[]> {
    const rows = await queryRows<{ subnet: string | null; device_id: string; started: Date | null }>(
      m,
      `SELECT DISTINCT ON (subnet) subnet, device_id, lan_session_started_at AS started FROM tasks.device_tasks
       WHERE task_id = $1 AND lan_role = 'representative' ORDER BY subnet, lan_session_started_at DESC NULLS LAST, device_id`,
      [taskId],
    );
    return rows.map((r) => ({ subnet: r.subnet, deviceId: r.device_id, sessionStartedAt: r.started?.toISOString() ?? null }));
  }

  async listDevices(taskId: string, state: DeviceTaskState | undefined, limit: number, offset: number): Promise<{ items: DeviceTask[]; total: number }> {
    const where = state ? `task_id = $1 AND state = $2` : `task_id = $1`;
    const params: unknown[] = state ? [taskId, state] : [taskId];
    const rows = await queryRows<Record<string, any>>(this.db, 
      `SELECT * FROM tasks.device_tasks WHERE ${where} ORDER BY device_id LIMIT ${Number(limit)} OFFSET ${Number(offset)}`,
      params,
    );
    const [{ count }] = await this.db.query(`SELECT count(*)::int AS count FROM tasks.device_tasks WHERE ${where}`, params);
    return {
      total: count,
      items: rows.map((r) => ({
        taskId: r.task_id,
        deviceId: r.device_id,
        subnet: r.subnet,
        state: r.state,
        reason: r.reason,
        bytes: bytesOfRow(r as { bytes_origin: string; bytes_parent: string; bytes_multicast: string; bytes_peer: string }),
        hashVerified: r.hash_verified,
        exitCode: r.exit_code,
        outputTail: r.output_tail,
        updatedAt: (r.updated_at as Date).toISOString(),
        attempt: r.attempt,
        officeId: r.office_id,
      })),
    };
  }
}
