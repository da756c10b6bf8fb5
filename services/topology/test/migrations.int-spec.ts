import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import { createTestDatabase, runMigrateCommand, schemaTables, TestDatabase } from '@fleetcast/testing';
import { TOPOLOGY_MIGRATIONS } from '../src/migrations';
import { CleanupStack } from './topology-fixtures';

const migrateScript = join(__dirname, '..', 'src', 'migrate.js');

describe('topology migrations through the migrate command', { timeout: 120_000 }, () => {
  const cleanup = new CleanupStack();
  let db: TestDatabase;
  let client: Client;

  before(async () => {
    db = await createTestDatabase('topology_migrate');
    cleanup.push(() => db.drop());
    client = new Client({ connectionString: db.url });
    await client.connect();
    cleanup.push(() => client.end());
  });
  after(() => cleanup.run());

  /** The migrate command with DATABASE_URL alone (it needs none of the service's other settings). */
  const migrate = (direction: string) => runMigrateCommand(migrateScript, direction, db.url);

  async function state(): Promise<{ tables: string[]; applied: number }> {
    const exists = (await client.query(`SELECT to_regclass('topology.migrations') AS t`)).rows[0].t !== null;
    const applied = exists ? (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM topology.migrations')).rows[0]!.n : 0;
    return { tables: await schemaTables(client, 'topology'), applied };
  }

  const all = { tables: ['offices', 'outbox', 'placements', 'state', 'subnets', 'versions'], applied: TOPOLOGY_MIGRATIONS.length };

  it('applies every migration, reverts them one by one, and applies them again', async () => {
    assert.deepEqual(await state(), { tables: [], applied: 0 });
    const up = await migrate('up');
    assert.equal(up.code, 0, up.output);
    assert.match(up.output, /applied: Initial/);
    assert.deepEqual(await state(), all);
    for (let left = TOPOLOGY_MIGRATIONS.length - 1; left >= 0; left--) {
      const down = await migrate('down');
      assert.equal(down.code, 0, down.output);
      assert.equal((await state()).applied, left);
    }
    assert.deepEqual(await state(), { tables: [], applied: 0 });
    const again = await migrate('up');
    assert.equal(again.code, 0, again.output);
    assert.deepEqual(await state(), all);
  });

  it('holds the rules in the database too: one state row, no overlapping subnets, a WAN link exactly for branches', async () => {
    await assert.rejects(client.query(`INSERT INTO topology.state (id) VALUES (2)`), /state_single_row_check|duplicate key/);
    await client.query(`INSERT INTO topology.offices (office_id, name, type) VALUES ('hq', 'HQ', 'default')`);
    await client.query(`INSERT INTO topology.offices (office_id, name, type, parent_id, wan_bandwidth_kbps) VALUES ('b', 'B', 'wifi', 'hq', 1000)`);
    await assert.rejects(client.query(`INSERT INTO topology.offices (office_id, name, type, parent_id) VALUES ('c', 'C', 'vpn', 'hq')`), /offices_wan_parent_check/);
    await assert.rejects(client.query(`INSERT INTO topology.offices (office_id, name, type) VALUES ('d', 'D', 'lan')`), /offices_type_check/);
    await client.query(`INSERT INTO topology.subnets (cidr, office_id) VALUES ('10.0.0.0/16', 'hq'), ('2001:db8::/48', 'hq'), ('10.1.0.0/24', 'b')`);
    await assert.rejects(client.query(`INSERT INTO topology.subnets (cidr, office_id) VALUES ('10.0.5.0/24', 'b')`), /subnets_no_overlap/);
    await assert.rejects(client.query(`INSERT INTO topology.subnets (cidr, office_id) VALUES ('2001:db8:0:1::/64', 'b')`), /subnets_no_overlap/);
  });
});
