import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import { createTestDatabase, runMigrateCommand, schemaTables, TestDatabase } from '@fleetcast/testing';
import { WEBHOOKS_MIGRATIONS } from '../src/migrations';

const migrateScript = join(__dirname, '..', 'src', 'migrate.js');

describe('webhooks migrations through the migrate command', { timeout: 120_000 }, () => {
  let db: TestDatabase;
  let client: Client;

  before(async () => {
    db = await createTestDatabase('webhooks_migrate');
    client = new Client({ connectionString: db.url });
    await client.connect();
  });
  after(async () => {
    await client?.end();
    await db?.drop();
  });

  /** The migrate command with DATABASE_URL alone (it needs none of the service's other settings). */
  const migrate = (direction: string) => runMigrateCommand(migrateScript, direction, db.url);

  const tables = () => schemaTables(client, 'webhooks');

  it('applies every migration, reverts them, and applies them again; one delivery per subscription and event', async () => {
    const up = await migrate('up');
    assert.equal(up.code, 0, up.output);
    assert.deepEqual(await tables(), ['attempts', 'deliveries', 'subscriptions']);
    await client.query(`INSERT INTO webhooks.subscriptions (id, url, events, secret, enabled) VALUES ('00000000-0000-4000-8000-000000000001', 'http://x', '{device.enrolled}', 's', true)`);
    const insert = `INSERT INTO webhooks.deliveries (id, subscription_id, event_id, event_type, payload, state) VALUES (gen_random_uuid(), '00000000-0000-4000-8000-000000000001', 'e-1', 'device.enrolled', '{}', 'pending')`;
    await client.query(insert);
    await assert.rejects(client.query(insert), /deliveries_one_per_event/);
    for (let left = WEBHOOKS_MIGRATIONS.length - 1; left >= 0; left--) {
      const down = await migrate('down');
      assert.equal(down.code, 0, down.output);
    }
    assert.deepEqual(await tables(), []);
    const again = await migrate('up');
    assert.equal(again.code, 0, again.output);
    assert.deepEqual(await tables(), ['attempts', 'deliveries', 'subscriptions']);
  });
});
