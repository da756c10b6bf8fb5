import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Deleted packages: the row stays (completed tasks reference it), marked with when it was deleted.
 * A deleted package is no longer read, listed or usable by a task; the partial index serves the
 * deletion notices devices ask for at every scan.
 */
export class PackageDeletion1796500000000 implements MigrationInterface {
  name = 'PackageDeletion1796500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE tasks.packages ADD COLUMN deleted_at timestamptz`);
    await q.query(`CREATE INDEX packages_deleted ON tasks.packages (deleted_at DESC) WHERE deleted_at IS NOT NULL`);
    await q.query(`CREATE INDEX packages_created ON tasks.packages (created_at DESC, id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX tasks.packages_created`);
    await q.query(`DROP INDEX tasks.packages_deleted`);
    await q.query(`ALTER TABLE tasks.packages DROP COLUMN deleted_at`);
  }
}
