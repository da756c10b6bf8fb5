import { MigrationInterface, QueryRunner } from 'typeorm';

/** Why a device's LAN session fell short (status reports of version 2 with `lan.issue`). */
export class LanIssue1764028800000 implements MigrationInterface {
  name = 'LanIssue1764028800000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE tasks.device_tasks ADD COLUMN lan_issue_code text, ADD COLUMN lan_issue_message text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE tasks.device_tasks DROP COLUMN lan_issue_code, DROP COLUMN lan_issue_message`);
  }
}
