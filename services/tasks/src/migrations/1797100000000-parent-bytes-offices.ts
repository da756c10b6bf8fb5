import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Bytes from the parent office's holders (the office swarm's upstream fetch), apart from `peer`:
 * per device task and in the hourly figures. And the office a device was in for a task, as the
 * topology placed it when the tasks service last asked (its swarm announces, its status reports),
 * so that the task summary sums WAN bytes and bytes saved per office in one GROUP BY. Rows written
 * before this read 0 from the parent (older agents counted those bytes as `peer`) and no office.
 */
export class ParentBytesOffices1797100000000 implements MigrationInterface {
  name = 'ParentBytesOffices1797100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE tasks.device_tasks ADD COLUMN bytes_parent bigint NOT NULL DEFAULT 0`);
    // null: no office known (no topology, not placed yet, or in no office's subnets).
    await q.query(`ALTER TABLE tasks.device_tasks ADD COLUMN office_id text`);
    await q.query(`ALTER TABLE tasks.device_tasks ADD COLUMN office_name text`);
    await q.query(`ALTER TABLE tasks.subnet_bytes_hourly ADD COLUMN bytes_parent bigint NOT NULL DEFAULT 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE tasks.subnet_bytes_hourly DROP COLUMN bytes_parent`);
    await q.query(`ALTER TABLE tasks.device_tasks DROP COLUMN office_name`);
    await q.query(`ALTER TABLE tasks.device_tasks DROP COLUMN office_id`);
    await q.query(`ALTER TABLE tasks.device_tasks DROP COLUMN bytes_parent`);
  }
}
