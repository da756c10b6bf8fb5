import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A device's history in a task: each change of state (and each new reason while in one), in the
 * transaction that applies the report, so that `GET /v1/tasks/{id}/devices/{deviceId}/history` shows
 * how it got where it is. Progress reports that change neither add nothing.
 */
export class DeviceHistory1796420000000 implements MigrationInterface {
  name = 'DeviceHistory1796420000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE tasks.device_task_history (
        id bigserial PRIMARY KEY,
        task_id text NOT NULL,
        device_id text NOT NULL,
        seq integer NOT NULL,
        state text NOT NULL,
        reason jsonb,
        at timestamptz NOT NULL DEFAULT now(),
        FOREIGN KEY (task_id, device_id) REFERENCES tasks.device_tasks (task_id, device_id) ON DELETE CASCADE
      )`);
    await q.query(`CREATE INDEX device_task_history_device ON tasks.device_task_history (task_id, device_id, id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE tasks.device_task_history`);
  }
}
