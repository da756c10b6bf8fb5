import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Activations: each with its steps' progress (stored as it goes, so a run killed half-way is taken
 * up where it was), a lease that lets one instance run it at a time, and at most one running. An
 * enrolled device records the activation that marked it active.
 */
export class Activation1796410000000 implements MigrationInterface {
  readonly name = 'Activation1796410000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE licensing.activations (
        id uuid PRIMARY KEY,
        state text NOT NULL CONSTRAINT activations_state_check CHECK (state IN ('running', 'completed', 'failed')),
        started_by text NOT NULL,
        origin_addresses text[],
        started_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz,
        steps jsonb NOT NULL,
        progress jsonb NOT NULL DEFAULT '{}'::jsonb,
        result jsonb,
        error jsonb,
        locked_until timestamptz
      )`);
    await queryRunner.query(`CREATE UNIQUE INDEX activations_one_running_idx ON licensing.activations ((true)) WHERE state = 'running'`);
    await queryRunner.query(`ALTER TABLE licensing.enrolled_devices ADD COLUMN activation_id uuid REFERENCES licensing.activations (id)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE licensing.enrolled_devices DROP COLUMN activation_id`);
    await queryRunner.query(`DROP TABLE licensing.activations`);
  }
}
