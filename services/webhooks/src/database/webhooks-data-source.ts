import type { ServiceDataSourceOptions } from '@fleetcast/persistence';
import { WEBHOOKS_SCHEMA, WebhooksConfig } from '../config/webhooks.config';
import { WEBHOOKS_MIGRATIONS } from '../migrations';

/** The webhooks service's database settings, shared by the service and its migrate command. */
export function webhooksDataSourceOptions(config: Pick<WebhooksConfig, 'DATABASE_URL' | 'DB_POOL_SIZE'>): ServiceDataSourceOptions {
  return { url: config.DATABASE_URL, schema: WEBHOOKS_SCHEMA, entities: [], migrations: WEBHOOKS_MIGRATIONS, poolSize: config.DB_POOL_SIZE };
}
