import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The swarm's view (docs/p2p.md): per content, which device of which office holds which blocks
 * (soft state, rewritten by every announce and read only while fresh), and per content and office
 * the one device that holds the lease to bring the content across the office's WAN link.
 */
export class Swarm1796900000000 implements MigrationInterface {
  name = 'Swarm1796900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE tasks.swarm_holdings (
        content_id text NOT NULL,
        device_id text NOT NULL,
        office_id text NOT NULL,
        -- null: the device serves no peers (it still counts as a fetcher).
        url text,
        complete boolean NOT NULL,
        runs jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (content_id, device_id)
      )`);
    await q.query(`CREATE INDEX swarm_holdings_office ON tasks.swarm_holdings (content_id, office_id, complete DESC, updated_at DESC)`);
    await q.query(`
      CREATE TABLE tasks.swarm_upstream (
        content_id text NOT NULL,
        office_id text NOT NULL,
        device_id text NOT NULL,
        expires_at timestamptz NOT NULL,
        PRIMARY KEY (content_id, office_id)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE tasks.swarm_upstream`);
    await q.query(`DROP TABLE tasks.swarm_holdings`);
  }
}
