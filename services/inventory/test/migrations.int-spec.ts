import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import { createTestDatabase, runMigrateCommand, TestDatabase } from '@fleetcast/testing';
import { CleanupStack } from './inventory-fixtures';

const migrateScript = join(__dirname, '..', 'src', 'migrate.js');

describe('inventory migrations through the migrate command', { timeout: 120_000 }, () => {
  const cleanup = new CleanupStack();
  let db: TestDatabase;
  let client: Client;

  before(async () => {
    db = await createTestDatabase('inventory_migrate');
    cleanup.push(() => db.drop());
    client = new Client({ connectionString: db.url });
    await client.connect();
    cleanup.push(() => client.end());
  });
  after(() => cleanup.run());

  /** The migrate command with DATABASE_URL alone (it needs none of the service's other settings). */
  const migrate = (direction: string) => runMigrateCommand(migrateScript, direction, db.url);

  async function state(): Promise<{ devicesTable: boolean; versionColumns: string[]; applied: number }> {
    const { rows } = await client.query<{ devices: string | null; migrations: string | null }>(
      `SELECT to_regclass('inventory.devices')::text AS devices, to_regclass('inventory.migrations')::text AS migrations`,
    );
    const applied = rows[0]!.migrations ? (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM inventory.migrations')).rows[0]!.n : 0;
    const columns = await client.query<{ name: string }>(
      `SELECT column_name AS name FROM information_schema.columns WHERE table_schema = 'inventory' AND table_name = 'devices' AND column_name LIKE 'version\\_%' ORDER BY 1`,
    );
    return { devicesTable: rows[0]!.devices !== null, versionColumns: columns.rows.map((c) => c.name), applied };
  }

  const ALL_VERSION_COLUMNS = ['version_range', 'version_reason', 'version_state'];

  it('applies, reverts and re-applies the schema', async () => {
    assert.deepEqual(await state(), { devicesTable: false, versionColumns: [], applied: 0 });

    const up = await migrate('up');
    assert.equal(up.code, 0, up.output);
    assert.match(up.output, /applied: Initial.*AgentVersionStatus/s);
    assert.deepEqual(await state(), { devicesTable: true, versionColumns: ALL_VERSION_COLUMNS, applied: 2 });

    const again = await migrate('up');
    assert.equal(again.code, 0, again.output);
    assert.match(again.output, /up to date/);

    // One step back at a time: the version status first (the devices stay), then the table.
    const down = await migrate('down');
    assert.equal(down.code, 0, down.output);
    assert.deepEqual(await state(), { devicesTable: true, versionColumns: [], applied: 1 });
    const downAgain = await migrate('down');
    assert.equal(downAgain.code, 0, downAgain.output);
    assert.deepEqual(await state(), { devicesTable: false, versionColumns: [], applied: 0 });

    const reapplied = await migrate('up');
    assert.equal(reapplied.code, 0, reapplied.output);
    assert.deepEqual(await state(), { devicesTable: true, versionColumns: ALL_VERSION_COLUMNS, applied: 2 });

    // The re-created table takes a device row with every column the service writes.
    await client.query(
      `INSERT INTO inventory.devices (id, hostname, platform, os_version, agent_version, interfaces, subnets, primary_subnet,
         cached_content_ids, cache_free_bytes, scanned_at, scan_seq, last_seen_at)
       VALUES ('m-1', 'h', 'linux', '12', '0.1.0', '[]', '{}', NULL, '{}', 0, now(), 1, now())`,
    );
    await assert.rejects(
      client.query(
        `INSERT INTO inventory.devices (id, hostname, platform, os_version, agent_version, interfaces, subnets, primary_subnet,
           cached_content_ids, cache_free_bytes, scanned_at, scan_seq, last_seen_at)
         VALUES ('m-2', 'h', 'beos', '1', '0.1.0', '[]', '{}', NULL, '{}', 0, now(), 1, now())`,
      ),
      /devices_platform_check/,
    );
    // A row written without a status (as before the column existed) is supported and not yet judged.
    const { rows } = await client.query(`SELECT version_state, version_reason, version_range FROM inventory.devices WHERE id = 'm-1'`);
    assert.deepEqual(rows, [{ version_state: 'supported', version_reason: null, version_range: null }]);
    await assert.rejects(client.query(`UPDATE inventory.devices SET version_state = 'maybe' WHERE id = 'm-1'`), /devices_version_state_check/);
  });

  it('refuses an unknown direction with a non-zero exit', async () => {
    const result = await migrate('sideways');
    assert.notEqual(result.code, 0);
    assert.match(result.output, /unknown migrate direction "sideways"/);
  });
});
