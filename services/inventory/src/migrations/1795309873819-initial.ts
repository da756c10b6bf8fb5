import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The inventory's first schema: one row per device, rewritten by each newer scan.
 * No outbox table: the inventory publishes no events (it is queried over request/reply).
 */
export class Initial1795309873819 implements MigrationInterface {
  readonly name = 'Initial1795309873819';

  async up(queryRunner: QueryRunner): Promise<void> {
    // fillfactor 80: every scan rewrites its device's row; free room on the page lets Postgres
    // update in place (a HOT update, no index writes) whenever no indexed column changed, which is
    // why last_seen_at, the column every scan changes, carries no index.
    await queryRunner.query(`
      CREATE TABLE inventory.devices (
        id text PRIMARY KEY,
        hostname text NOT NULL,
        platform text NOT NULL CONSTRAINT devices_platform_check CHECK (platform IN ('windows', 'macos', 'linux')),
        os_version text NOT NULL,
        agent_version text NOT NULL,
        interfaces jsonb NOT NULL,
        subnets text[] NOT NULL,
        primary_subnet text,
        cached_content_ids text[] NOT NULL,
        cache_free_bytes bigint NOT NULL,
        scanned_at timestamptz NOT NULL,
        scan_seq bigint NOT NULL,
        first_seen_at timestamptz NOT NULL DEFAULT now(),
        last_seen_at timestamptz NOT NULL
      ) WITH (fillfactor = 80)`);
    // Targets are resolved and listed by subnet; the id makes the index cover "devices of a subnet in id order".
    await queryRunner.query(`CREATE INDEX devices_primary_subnet_idx ON inventory.devices (primary_subnet, id)`);
    // Host names are case-insensitive; text_pattern_ops lets LIKE 'prefix%' use the index whatever the collation.
    await queryRunner.query(`CREATE INDEX devices_hostname_prefix_idx ON inventory.devices (lower(hostname) text_pattern_ops)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    // The schema itself stays: it holds the migrations table that records this revert.
    await queryRunner.query(`DROP TABLE inventory.devices`);
  }
}
