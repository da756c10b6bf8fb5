import { MigrationInterface, QueryRunner } from 'typeorm';
import { createOutboxTable, dropOutboxTable } from '@fleetcast/persistence';

/**
 * The topology service's first schema: every version ever stored (document, author, time, change
 * summary), the current version's offices and subnets as rows, each device's placement, the single
 * state row whose lock serialises uploads against placements, and the outbox of topology events.
 */
export class Initial1796280000000 implements MigrationInterface {
  readonly name = 'Initial1796280000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE topology.versions (
        version integer PRIMARY KEY CONSTRAINT versions_version_check CHECK (version > 0),
        document jsonb NOT NULL,
        author text NOT NULL,
        comment text,
        created_at timestamptz NOT NULL,
        summary jsonb NOT NULL
      )`);
    // One row: uploads lock it FOR UPDATE, placements FOR SHARE, so a placement never mixes versions.
    await queryRunner.query(`
      CREATE TABLE topology.state (
        id smallint PRIMARY KEY CONSTRAINT state_single_row_check CHECK (id = 1),
        current_version integer REFERENCES topology.versions (version)
      )`);
    await queryRunner.query(`INSERT INTO topology.state (id) VALUES (1)`);
    // The current version's offices, for SQL readers; the document in versions is the source of truth.
    await queryRunner.query(`
      CREATE TABLE topology.offices (
        office_id text PRIMARY KEY,
        name text NOT NULL,
        type text NOT NULL CONSTRAINT offices_type_check CHECK (type IN ('default', 'vpn', 'wifi')),
        parent_id text REFERENCES topology.offices (office_id) DEFERRABLE INITIALLY DEFERRED,
        wan_bandwidth_kbps integer CONSTRAINT offices_wan_check CHECK (wan_bandwidth_kbps > 0),
        CONSTRAINT offices_wan_parent_check CHECK ((parent_id IS NULL) = (wan_bandwidth_kbps IS NULL))
      )`);
    // No two subnets overlap: checked by the validation, and held by the database whatever a writer does.
    await queryRunner.query(`
      CREATE TABLE topology.subnets (
        cidr cidr PRIMARY KEY,
        office_id text NOT NULL REFERENCES topology.offices (office_id) ON DELETE CASCADE,
        CONSTRAINT subnets_no_overlap EXCLUDE USING gist (cidr inet_ops WITH &&)
      )`);
    await queryRunner.query(`
      CREATE TABLE topology.placements (
        device_id text PRIMARY KEY,
        office_id text,
        placed boolean NOT NULL DEFAULT false,
        address text,
        addresses text[] NOT NULL,
        scan_seq bigint NOT NULL,
        topology_version integer,
        updated_at timestamptz NOT NULL,
        CONSTRAINT placements_office_check CHECK ((office_id IS NULL) = (topology_version IS NULL)),
        CONSTRAINT placements_address_check CHECK (placed = (address IS NOT NULL))
      )`);
    // Peers are the placed devices of one office; the unplaced list pages by device ID.
    await queryRunner.query(`CREATE INDEX placements_office_idx ON topology.placements (office_id, device_id) WHERE placed`);
    await queryRunner.query(`CREATE INDEX placements_unplaced_idx ON topology.placements (device_id) WHERE NOT placed`);
    await createOutboxTable(queryRunner, 'topology');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    // The schema itself stays: it holds the migrations table that records this revert.
    await dropOutboxTable(queryRunner, 'topology');
    await queryRunner.query(`DROP TABLE topology.placements`);
    await queryRunner.query(`DROP TABLE topology.subnets`);
    await queryRunner.query(`DROP TABLE topology.offices`);
    await queryRunner.query(`DROP TABLE topology.state`);
    await queryRunner.query(`DROP TABLE topology.versions`);
  }
}
