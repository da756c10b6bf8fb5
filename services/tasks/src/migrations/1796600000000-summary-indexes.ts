import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The task summary at 100,000 devices (docs/scaling.md): its representatives, reasons and LAN
 * issues concern a few rows of a task (one representative a subnet, the failed devices, those
 * with an issue), yet each scanned all of the task's rows. Partial indexes on just those rows make
 * each a lookup; rows without a role, a reason or an issue cost nothing to keep indexed. The
 * task's devices in one state (the failed ones, in the console and `GET /v1/tasks/{id}/devices`)
 * are read in device order from their own index instead of filtering the whole task.
 */
export class SummaryIndexes1796600000000 implements MigrationInterface {
  name = 'SummaryIndexes1796600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE INDEX device_tasks_representatives ON tasks.device_tasks (task_id, subnet, lan_session_started_at DESC NULLS LAST, device_id) WHERE lan_role = 'representative'`,
    );
    await q.query(`CREATE INDEX device_tasks_reasons ON tasks.device_tasks (task_id, state) WHERE reason IS NOT NULL`);
    await q.query(`CREATE INDEX device_tasks_lan_issues ON tasks.device_tasks (task_id, subnet, lan_issue_code) WHERE lan_issue_code IS NOT NULL`);
    await q.query(`CREATE INDEX device_tasks_state ON tasks.device_tasks (task_id, state, device_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX tasks.device_tasks_state`);
    await q.query(`DROP INDEX tasks.device_tasks_lan_issues`);
    await q.query(`DROP INDEX tasks.device_tasks_reasons`);
    await q.query(`DROP INDEX tasks.device_tasks_representatives`);
  }
}
