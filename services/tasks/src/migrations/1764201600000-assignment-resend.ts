import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Resends with back-off and a cap: each unacknowledged device task counts its resends and knows when
 * the next one is due (null: none, the cap is reached or the assignment was never sent). The index
 * holds only rows with a resend to come, so the scheduler's claim reads the due rows and never the
 * devices that stopped being resent to (which grow with every offline device of a 30-day window).
 * Rows pending at the upgrade are due 60 s after their last copy, the interval they had before.
 * `down` keeps the rows and forgets the counts.
 */
export class AssignmentResend1764201600000 implements MigrationInterface {
  name = 'AssignmentResend1764201600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE tasks.device_tasks ADD COLUMN resend_count integer NOT NULL DEFAULT 0, ADD COLUMN next_resend_at timestamptz`);
    await q.query(`UPDATE tasks.device_tasks SET next_resend_at = sent_at + interval '60 seconds' WHERE state = 'pending' AND sent_at IS NOT NULL`);
    await q.query(`DROP INDEX tasks.device_tasks_pending`);
    await q.query(`CREATE INDEX device_tasks_resend_due ON tasks.device_tasks (next_resend_at) WHERE state = 'pending' AND next_resend_at IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX tasks.device_tasks_resend_due`);
    await q.query(`CREATE INDEX device_tasks_pending ON tasks.device_tasks (sent_at) WHERE state = 'pending'`);
    await q.query(`ALTER TABLE tasks.device_tasks DROP COLUMN resend_count, DROP COLUMN next_resend_at`);
  }
}
