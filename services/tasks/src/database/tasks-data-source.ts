import type { ServiceDataSourceOptions } from '@fleetcast/persistence';
import { TASKS_MIGRATIONS } from '../migrations';

/** The tasks service owns the `tasks` schema. */
export const TASKS_SCHEMA = 'tasks';

/** The tasks service's database settings, shared by the service and its migrate command. */
export function tasksDataSourceOptions(url: string, poolSize?: number): ServiceDataSourceOptions {
  return { url, schema: TASKS_SCHEMA, entities: [], migrations: TASKS_MIGRATIONS, poolSize };
}
