import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Enrollment: tokens an administrator makes (only their SHA-256 is kept), the devices enrolled
 * with the NATS user key each presented, and the revoked user keys that the fleet account's JWT
 * lists (the database is the source of truth; the JWT is rebuilt from it on every change).
 */
export class Enrollment1796270000000 implements MigrationInterface {
  readonly name = 'Enrollment1796270000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE licensing.enrollment_tokens (
        id text PRIMARY KEY,
        name text NOT NULL,
        token_hash bytea NOT NULL UNIQUE,
        device_group text,
        max_uses integer NOT NULL CONSTRAINT enrollment_tokens_max_uses_check CHECK (max_uses > 0),
        uses integer NOT NULL DEFAULT 0,
        expires_at timestamptz NOT NULL,
        revoked_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`
      CREATE TABLE licensing.enrolled_devices (
        device_id text PRIMARY KEY,
        public_key text NOT NULL,
        hostname text NOT NULL,
        platform text NOT NULL,
        agent_version text NOT NULL,
        device_group text,
        state text NOT NULL CONSTRAINT enrolled_devices_state_check CHECK (state IN ('active', 'retired')),
        token_id text NOT NULL REFERENCES licensing.enrollment_tokens (id),
        enrolled_at timestamptz NOT NULL,
        retired_at timestamptz
      )`);
    await queryRunner.query(`CREATE INDEX enrolled_devices_state_idx ON licensing.enrolled_devices (state, device_id)`);
    await queryRunner.query(`
      CREATE TABLE licensing.revoked_keys (
        public_key text PRIMARY KEY,
        device_id text NOT NULL,
        revoked_at timestamptz NOT NULL
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE licensing.revoked_keys`);
    await queryRunner.query(`DROP TABLE licensing.enrolled_devices`);
    await queryRunner.query(`DROP TABLE licensing.enrollment_tokens`);
  }
}
