import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Confidential packages: the flag, and the content key (32 bytes; wrapped under the service's
 * CONTENT_KEY_SECRET when one is configured, `content_key_wrapped` says which). The key is written
 * with the sealed content's manifest in one statement, so a package never has one without the other.
 */
export class ConfidentialPackages1797000000000 implements MigrationInterface {
  name = 'ConfidentialPackages1797000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE tasks.packages ADD COLUMN confidential boolean NOT NULL DEFAULT false`);
    await q.query(`ALTER TABLE tasks.packages ADD COLUMN content_key bytea`);
    await q.query(`ALTER TABLE tasks.packages ADD COLUMN content_key_wrapped boolean NOT NULL DEFAULT false`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE tasks.packages DROP COLUMN content_key_wrapped`);
    await q.query(`ALTER TABLE tasks.packages DROP COLUMN content_key`);
    await q.query(`ALTER TABLE tasks.packages DROP COLUMN confidential`);
  }
}
