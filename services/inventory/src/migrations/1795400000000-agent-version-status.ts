import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Each device's agent version judged against the supported range (SUPPORTED_AGENT_VERSIONS):
 * its state, the reason when unsupported, and the range it was judged against. Rows that exist at
 * the upgrade have no range yet: the service judges them at its next start, before it takes any
 * traffic, one UPDATE per distinct agent version (a semver range cannot be evaluated in SQL).
 * `down` forgets the statuses; the devices stay.
 */
export class AgentVersionStatus1795400000000 implements MigrationInterface {
  readonly name = 'AgentVersionStatus1795400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    // A constant default adds the column without rewriting the table (Postgres 11 and later).
    await queryRunner.query(`
      ALTER TABLE inventory.devices
        ADD COLUMN version_state text NOT NULL DEFAULT 'supported'
          CONSTRAINT devices_version_state_check CHECK (version_state IN ('supported', 'unsupported-version')),
        ADD COLUMN version_reason text,
        ADD COLUMN version_range text`);
    // Unsupported devices are the few an operator lists; the index holds only them, in listing order.
    // A device's state changes only when its agent version or the range does, so the scans that
    // rewrite its row keep updating it in place (HOT) as before.
    await queryRunner.query(`CREATE INDEX devices_unsupported_version_idx ON inventory.devices (id) WHERE version_state = 'unsupported-version'`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX inventory.devices_unsupported_version_idx`);
    await queryRunner.query(`ALTER TABLE inventory.devices DROP COLUMN version_range, DROP COLUMN version_reason, DROP COLUMN version_state`);
  }
}
