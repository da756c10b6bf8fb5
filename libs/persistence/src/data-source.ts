import { DataSource, DataSourceOptions, MixedList, EntitySchema } from 'typeorm';

export interface ServiceDataSourceOptions {
  url: string;
  /** The Postgres schema this service owns; nothing else writes to it. */
  schema: string;
  entities: MixedList<string | Function | EntitySchema>;
  migrations: MixedList<string | Function>;
  /** Connections in the pool; ingestion at thousands of messages a second wants a handful, not dozens. */
  poolSize?: number;
}

/**
 * TypeORM options for a service: its own schema, its own migrations table in that schema,
 * never `synchronize` (the schema changes only through committed migrations).
 */
export function serviceDataSourceOptions(options: ServiceDataSourceOptions): DataSourceOptions {
  return {
    type: 'postgres',
    url: options.url,
    schema: options.schema,
    entities: options.entities,
    migrations: options.migrations,
    migrationsTableName: 'migrations',
    migrationsRun: false,
    synchronize: false,
    extra: { max: options.poolSize ?? 10 },
  };
}

/**
 * Creates the schema if needed (the migrations table lives in it), then applies pending migrations,
 * holding a Postgres advisory lock so that instances started together take turns: the first
 * migrates, the others then find nothing to do instead of racing to create the same tables.
 * The lock takes a connection of its own: the data source's pool needs at least two.
 */
export async function runMigrations(dataSource: DataSource, schema: string): Promise<string[]> {
  const lockHolder = dataSource.createQueryRunner();
  await lockHolder.connect();
  const lock = `fleetcast.${schema}.migrations`;
  try {
    // A session lock on a connection of its own: the migrations run on other pool connections.
    await lockHolder.query(`SELECT pg_advisory_lock(hashtext($1))`, [lock]);
    try {
      await dataSource.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      return applied.map((m) => m.name);
    } finally {
      await lockHolder.query(`SELECT pg_advisory_unlock(hashtext($1))`, [lock]);
    }
  } finally {
    await lockHolder.release();
  }
}

/** Reverts the last applied migration. */
export async function revertLastMigration(dataSource: DataSource): Promise<void> {
  await dataSource.undoLastMigration({ transaction: 'each' });
}

/**
 * The `migrate` command of a service: `up` (default) applies pending migrations, `down` reverts the
 * last one. Prints what it did; exits non-zero on failure.
 */
export async function migrateCommand(options: ServiceDataSourceOptions, argv: string[]): Promise<void> {
  const direction = argv[0] ?? 'up';
  if (direction !== 'up' && direction !== 'down') {
    throw new Error(`unknown migrate direction "${direction}" (use up or down)`);
  }
  const dataSource = new DataSource(serviceDataSourceOptions(options));
  await dataSource.initialize();
  try {
    if (direction === 'up') {
      const applied = await runMigrations(dataSource, options.schema);
      console.log(applied.length ? `applied: ${applied.join(', ')}` : `schema "${options.schema}" is up to date`);
    } else {
      await revertLastMigration(dataSource);
      console.log(`reverted the last migration of schema "${options.schema}"`);
    }
  } finally {
    await dataSource.destroy();
  }
}

/** The part of TypeORM's EntityManager/DataSource that runs SQL. */
export interface Queryable {
  query(sql: string, params?: any[]): Promise<any>;
}

/**
 * Runs SQL and returns its rows. TypeORM's `query` answers `[rows, affectedCount]` for UPDATE and
 * DELETE but bare rows for SELECT and INSERT; rows are objects, never arrays, so the two are told apart.
 */
export async function queryRows<T>(db: Queryable, sql: string, params: unknown[] = []): Promise<T[]> {
  const result = await db.query(sql, params);
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') return result[0] as T[];
  return result as T[];
}
