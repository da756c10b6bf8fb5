import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Bytes devices received, by source and subnet, hour by hour: what the fleet-wide WAN savings
 * report sums over a time range. Every applied status report adds what it says beyond the
 * device's previous report to its hour's row (right after the batch that applies it commits), so a report
 * over a year reads at most 8,784 rows per subnet through the primary key, never the device rows of
 * every task (100,000 devices x every task). The rows start with what the device rows already
 * hold, each device's bytes in the hour of its last report.
 */
export class SubnetBytesHourly1796700000000 implements MigrationInterface {
  name = 'SubnetBytesHourly1796700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE tasks.subnet_bytes_hourly (
        hour timestamptz NOT NULL,
        -- '' for devices without a subnet: a primary key column cannot be null.
        subnet text NOT NULL,
        bytes_origin bigint NOT NULL DEFAULT 0,
        bytes_multicast bigint NOT NULL DEFAULT 0,
        bytes_peer bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (hour, subnet)
      )`);
    await q.query(`
      INSERT INTO tasks.subnet_bytes_hourly (hour, subnet, bytes_origin, bytes_multicast, bytes_peer)
      SELECT date_trunc('hour', updated_at), COALESCE(subnet, ''), sum(bytes_origin), sum(bytes_multicast), sum(bytes_peer)
      FROM tasks.device_tasks
      GROUP BY 1, 2
      HAVING sum(bytes_origin) + sum(bytes_multicast) + sum(bytes_peer) > 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE tasks.subnet_bytes_hourly`);
  }
}
