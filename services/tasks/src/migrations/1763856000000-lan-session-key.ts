import { MigrationInterface, QueryRunner } from 'typeorm';

/** A per-task key that authenticates the task's LAN packets; tasks created before it get one too. */
export class LanSessionKey1763856000000 implements MigrationInterface {
  name = 'LanSessionKey1763856000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE tasks.tasks ADD COLUMN lan_key bytea`);
    // Two version-4 UUIDs (built into Postgres 13+, from a strong random source): 244 random bits.
    await q.query(`UPDATE tasks.tasks SET lan_key = decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex') WHERE lan_key IS NULL`);
    await q.query(`ALTER TABLE tasks.tasks ALTER COLUMN lan_key SET NOT NULL`);
    await q.query(`CREATE INDEX device_tasks_subnet ON tasks.device_tasks (task_id, subnet)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX tasks.device_tasks_subnet`);
    await q.query(`ALTER TABLE tasks.tasks DROP COLUMN lan_key`);
  }
}
