import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from 'pg';
import { freePort } from './free-port';
import { waitFor } from './wait-for';
import { createTestDatabase, TestDatabase, TestDatabaseError, testPostgresAdminUrl } from './test-database';

const created: TestDatabase[] = [];
const clients: Client[] = [];

const exists = async (name: string): Promise<boolean> => {
  const admin = new Client({ connectionString: testPostgresAdminUrl() });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    return rowCount === 1;
  } finally {
    await admin.end();
  }
};

after(async () => {
  await Promise.allSettled(clients.map((c) => c.end()));
  await Promise.allSettled(created.map((db) => db.drop()));
});

test('creates a fresh, uniquely named database that a client can use', { timeout: 30_000 }, async () => {
  const [db, other] = await Promise.all([createTestDatabase('Testing Lib'), createTestDatabase('Testing Lib')]);
  created.push(db, other);
  assert.notEqual(db.name, other.name);
  assert.match(db.name, /^testing_lib_[0-9a-z]+_[0-9a-f]{8}$/);
  assert.equal(new URL(db.url).pathname, `/${db.name}`);
  assert.ok(await exists(db.name));

  const client = new Client({ connectionString: db.url });
  clients.push(client);
  await client.connect();
  const { rows: [current] } = await client.query<{ name: string }>('SELECT current_database() AS name');
  assert.equal(current!.name, db.name);
  const { rows: tables } = await client.query("SELECT 1 FROM information_schema.tables WHERE table_schema = 'public'");
  assert.equal(tables.length, 0, 'starts empty');
  await client.query('CREATE TABLE device (id text PRIMARY KEY)');
  await client.query("INSERT INTO device VALUES ('dev-1')");
  const { rows } = await client.query('SELECT id FROM device');
  assert.deepEqual(rows, [{ id: 'dev-1' }]);
});

test('drop ends open sessions, removes the database and can be called again', { timeout: 30_000 }, async () => {
  const db = await createTestDatabase('drop me');
  created.push(db);
  const client = new Client({ connectionString: db.url });
  clients.push(client);
  const errors: Error[] = [];
  client.on('error', (error) => errors.push(error));
  await client.connect();
  await client.query('SELECT 1');

  await db.drop();
  assert.equal(await exists(db.name), false);
  await waitFor(() => errors.some((e) => /terminating connection/.test(e.message)), {
    description: 'the forgotten session to be told it was ended',
  });
  await assert.rejects(client.query('SELECT 1'));
  await db.drop();
});

test('a server that is not there gives a clear error without the password', { timeout: 30_000 }, async () => {
  const port = await freePort();
  await assert.rejects(createTestDatabase('x', { adminUrl: `postgres://fleet:s3cret@127.0.0.1:${port}/postgres` }), (error: unknown) => {
    assert.ok(error instanceof TestDatabaseError);
    assert.equal(error.code, 'TESTING.DATABASE_UNAVAILABLE');
    assert.match(error.message, new RegExp(`^cannot connect to the test PostgreSQL at postgres://fleet:\\*\\*\\*@127\\.0\\.0\\.1:${port}/postgres: `));
    assert.match(error.message, /FLEETCAST_TEST_PG_URL/);
    assert.doesNotMatch(error.message, /s3cret/);
    return true;
  });
});
