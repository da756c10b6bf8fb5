import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A device's attempt at a task: 1 when the task is created, one more each time a retry puts the
 * failed device back to `pending` (the attempt is signed into the new assignment, so that the agent
 * starts again). Tasks and device tasks may also be `cancelled` now; both state columns are text.
 */
export class DeviceTaskAttempt1796550000000 implements MigrationInterface {
  name = 'DeviceTaskAttempt1796550000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE tasks.device_tasks ADD COLUMN attempt integer NOT NULL DEFAULT 1`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`UPDATE tasks.device_tasks SET state = 'failed' WHERE state = 'cancelled'`);
    await q.query(`UPDATE tasks.tasks SET status = 'completed' WHERE status = 'cancelled'`);
    await q.query(`ALTER TABLE tasks.device_tasks DROP COLUMN attempt`);
  }
}
