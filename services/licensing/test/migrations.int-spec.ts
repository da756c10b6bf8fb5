import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import { createTestDatabase, runMigrateCommand, TestDatabase } from '@fleetcast/testing';
import { LICENSING_MIGRATIONS } from '../src/migrations';
import { CleanupStack } from './licensing-fixtures';

const migrateScript = join(__dirname, '..', 'src', 'migrate.js');

describe('licensing migrations through the migrate command', { timeout: 120_000 }, () => {
  const cleanup = new CleanupStack();
  let db: TestDatabase;
  let client: Client;

  before(async () => {
    db = await createTestDatabase('licensing_migrate');
    cleanup.push(() => db.drop());
    client = new Client({ connectionString: db.url });
    await client.connect();
    cleanup.push(() => client.end());
  });
  after(() => cleanup.run());

  /** The migrate command with DATABASE_URL alone (it needs none of the service's other settings). */
  const migrate = (direction: string) => runMigrateCommand(migrateScript, direction, db.url);

  async function state(): Promise<{ tables: string[]; applied: number }> {
    const { rows } = await client.query<{ name: string }>(
      `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'licensing' AND table_name IN ('licenses', 'seats', 'allocation', 'outbox') ORDER BY 1`,
    );
    const exists = (await client.query(`SELECT to_regclass('licensing.migrations') AS t`)).rows[0].t !== null;
    const applied = exists ? (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM licensing.migrations')).rows[0]!.n : 0;
    return { tables: rows.map((r) => r.name), applied };
  }

  const all = { tables: ['allocation', 'licenses', 'outbox', 'seats'], applied: LICENSING_MIGRATIONS.length };

  it('applies every migration, reverts them one by one, and applies them again', async () => {
    assert.deepEqual(await state(), { tables: [], applied: 0 });
    const up = await migrate('up');
    assert.equal(up.code, 0, up.output);
    assert.match(up.output, /applied: Initial/);
    assert.deepEqual(await state(), all);
    // The single allocation row the seat lock relies on.
    assert.deepEqual((await client.query('SELECT id, overage_since FROM licensing.allocation')).rows, [{ id: 1, overage_since: null }]);

    for (let left = LICENSING_MIGRATIONS.length - 1; left >= 0; left--) {
      const down = await migrate('down');
      assert.equal(down.code, 0, down.output);
      assert.equal((await state()).applied, left);
    }
    assert.deepEqual(await state(), { tables: [], applied: 0 });

    const again = await migrate('up');
    assert.equal(again.code, 0, again.output);
    assert.deepEqual(await state(), all);
    await assert.rejects(client.query(`INSERT INTO licensing.allocation (id) VALUES (2)`), /allocation_single_row_check|duplicate key/);
    await client.query(
      `INSERT INTO licensing.licenses (license_id, customer, seats, features, issued_at, expires_at, key_text, installed_at, active)
       VALUES ('l-1', 'c', 5, '{}', now(), now() + interval '1 day', 'k', now(), true)`,
    );
    await assert.rejects(
      client.query(
        `INSERT INTO licensing.licenses (license_id, customer, seats, features, issued_at, expires_at, key_text, installed_at, active)
         VALUES ('l-2', 'c', 5, '{}', now(), now() + interval '1 day', 'k', now(), true)`,
      ),
      /licenses_one_active_idx/,
      'at most one active license',
    );
  });
});
