import { MigrationInterface, QueryRunner } from 'typeorm';

/** Each device's part in its subnet's LAN session, as its status reports (version 2) carry it. */
export class LanActivity1763942400000 implements MigrationInterface {
  name = 'LanActivity1763942400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE tasks.device_tasks
        ADD COLUMN lan_role text,
        ADD COLUMN lan_session_started_at timestamptz,
        ADD COLUMN lan_bytes_sent bigint NOT NULL DEFAULT 0,
        ADD COLUMN lan_repairs bigint NOT NULL DEFAULT 0,
        ADD COLUMN lan_invalid_packets bigint NOT NULL DEFAULT 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE tasks.device_tasks
        DROP COLUMN lan_role, DROP COLUMN lan_session_started_at, DROP COLUMN lan_bytes_sent,
        DROP COLUMN lan_repairs, DROP COLUMN lan_invalid_packets`);
  }
}
