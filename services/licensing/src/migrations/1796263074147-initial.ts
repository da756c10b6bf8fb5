import { MigrationInterface, QueryRunner } from 'typeorm';
import { createOutboxTable, dropOutboxTable } from '@fleetcast/persistence';

/**
 * The licensing service's first schema: every license ever installed (one of them active), one
 * row per device that holds or held a seat, the single allocation row whose lock serialises every
 * change to the seat count, and the outbox of license events.
 */
export class Initial1796263074147 implements MigrationInterface {
  readonly name = 'Initial1796263074147';

  async up(queryRunner: QueryRunner): Promise<void> {
    // The key text is kept as installed: the signed proof of what the license grants.
    await queryRunner.query(`
      CREATE TABLE licensing.licenses (
        license_id text PRIMARY KEY,
        customer text NOT NULL,
        seats integer NOT NULL CONSTRAINT licenses_seats_check CHECK (seats > 0),
        features text[] NOT NULL,
        issued_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        key_text text NOT NULL,
        installed_at timestamptz NOT NULL,
        active boolean NOT NULL DEFAULT false,
        expiring_notified integer[] NOT NULL DEFAULT '{}'
      )`);
    // At most one active license, enforced by the database rather than by every writer's care.
    await queryRunner.query(`CREATE UNIQUE INDEX licenses_one_active_idx ON licensing.licenses ((true)) WHERE active`);
    await queryRunner.query(`
      CREATE TABLE licensing.seats (
        device_id text PRIMARY KEY,
        license_id text NOT NULL REFERENCES licensing.licenses (license_id),
        assigned_at timestamptz NOT NULL,
        released_at timestamptz,
        release_reason text CONSTRAINT seats_release_reason_check CHECK (release_reason IN ('retired', 'stale')),
        CONSTRAINT seats_released_check CHECK ((released_at IS NULL) = (release_reason IS NULL))
      )`);
    // Seats held are counted on every assignment; the partial index keeps that count to the held rows.
    await queryRunner.query(`CREATE INDEX seats_held_idx ON licensing.seats (device_id) WHERE released_at IS NULL`);
    await queryRunner.query(`
      CREATE TABLE licensing.allocation (
        id smallint PRIMARY KEY CONSTRAINT allocation_single_row_check CHECK (id = 1),
        overage_since timestamptz,
        last_sweep_at timestamptz
      )`);
    await queryRunner.query(`INSERT INTO licensing.allocation (id) VALUES (1)`);
    await createOutboxTable(queryRunner, 'licensing');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    // The schema itself stays: it holds the migrations table that records this revert.
    await dropOutboxTable(queryRunner, 'licensing');
    await queryRunner.query(`DROP TABLE licensing.allocation`);
    await queryRunner.query(`DROP TABLE licensing.seats`);
    await queryRunner.query(`DROP TABLE licensing.licenses`);
  }
}
