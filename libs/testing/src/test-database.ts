import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

export interface TestDatabase {
  /** Connection URL of the fresh database (same server, user and options as the admin URL). */
  readonly url: string;
  readonly name: string;
  /** Ends every connection to the database and drops it. Idempotent. */
  drop(): Promise<void>;
}

export interface CreateTestDatabaseOptions {
  /** The server's maintenance database; defaults to `testPostgresAdminUrl()`. */
  adminUrl?: string;
}

/** Local development servers commonly trust the `postgres` user over loopback. */
export const DEFAULT_TEST_PG_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export class TestDatabaseError extends Error {
  readonly code = 'TESTING.DATABASE_UNAVAILABLE';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TestDatabaseError';
  }
}

/** Postgres truncates longer identifiers, which would make two names collide silently. */
const MAX_IDENTIFIER_LENGTH = 63;

/** A server that does not answer in 5 s is not there; failing fast beats a hung test. */
const CONNECT_TIMEOUT_MS = 5_000;

/** The admin database URL: $FLEETCAST_TEST_PG_URL, else `DEFAULT_TEST_PG_URL`. */
export function testPostgresAdminUrl(): string {
  return process.env['FLEETCAST_TEST_PG_URL'] || DEFAULT_TEST_PG_URL;
}

/**
 * Creates an empty database named `<prefix>_<time>_<random>` on the test server, so that each test
 * file (and each concurrent run) gets its own schema state and drops it when done.
 */
export async function createTestDatabase(prefix = 'test', options: CreateTestDatabaseOptions = {}): Promise<TestDatabase> {
  const adminUrl = options.adminUrl ?? testPostgresAdminUrl();
  const name = databaseName(prefix);
  // template0 never has sessions, so concurrent creations cannot fail on a busy template1.
  await withAdmin(adminUrl, (admin) => admin.query(`CREATE DATABASE ${quoteIdentifier(name)} TEMPLATE template0`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropping: Promise<void> | undefined;
  return {
    url: url.toString(),
    name,
    drop: () => {
      // FORCE ends the sessions of pools the test forgot to close (PostgreSQL 13 and later).
      dropping ??= withAdmin(adminUrl, (admin) => admin.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`)).then(
        () => undefined,
        (error: unknown) => {
          // A failed drop may be retried (the server was briefly away); a successful one is final.
          dropping = undefined;
          throw error;
        },
      );
      return dropping;
    },
  };
}

/** A valid, unique, lower-case identifier from a free-form prefix. */
export function databaseName(prefix: string): string {
  const suffix = `_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const cleaned =
    prefix
      .toLowerCase()
      .replace(/[^a-z0-9_]+/g, '_')
      .replace(/^_+|_+$/g, '') || 'test';
  return cleaned.slice(0, MAX_IDENTIFIER_LENGTH - suffix.length) + suffix;
}

async function withAdmin<T>(adminUrl: string, work: (admin: Client) => Promise<T>): Promise<T> {
  const admin = new Client({ connectionString: adminUrl, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  // An idle admin connection dropped by the server must not become an uncaught 'error' event.
  admin.on('error', () => undefined);
  try {
    await admin.connect();
  } catch (error) {
    throw new TestDatabaseError(
      `cannot connect to the test PostgreSQL at ${redact(adminUrl)}: ${(error as Error).message}; ` +
        `start PostgreSQL, or set FLEETCAST_TEST_PG_URL to a user who may create databases ` +
        `(a password can come from the URL, PGPASSWORD or ~/.pgpass)`,
      { cause: error },
    );
  }
  try {
    return await work(admin);
  } finally {
    await admin.end();
  }
}

function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/**
 * Runs a service's migrate command (`node dist/src/migrate.js <direction>`) against `databaseUrl`
 * with nothing else in its environment, as an operator would: the exit code and the output.
 */
export async function runMigrateCommand(script: string, direction: string, databaseUrl: string): Promise<{ code: number | null; output: string }> {
  const { spawnNodeProcess } = await import('./node-process');
  const child = await spawnNodeProcess(script, { name: `migrate-${direction}`, args: [direction], env: { DATABASE_URL: databaseUrl } });
  const exit = await child.exited;
  return { code: exit.code, output: child.output() };
}

/** The tables of a schema, sorted, without the migrations table. */
export async function schemaTables(client: Pick<Client, 'query'>, schema: string): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = $1 AND table_name <> 'migrations' ORDER BY 1`,
    [schema],
  );
  return rows.map((r) => r.name);
}
