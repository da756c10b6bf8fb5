import type { ServiceDataSourceOptions } from '@fleetcast/persistence';
import { INVENTORY_SCHEMA, InventoryConfig } from '../config/inventory.config';
import { DeviceEntity } from '../devices/device.entity';
import { INVENTORY_MIGRATIONS } from '../migrations';

/** The inventory's database settings, shared by the service and its migrate command. */
export function inventoryDataSourceOptions(config: Pick<InventoryConfig, 'DATABASE_URL' | 'DB_POOL_SIZE'>): ServiceDataSourceOptions {
  return {
    url: config.DATABASE_URL,
    schema: INVENTORY_SCHEMA,
    entities: [DeviceEntity],
    migrations: INVENTORY_MIGRATIONS,
    poolSize: config.DB_POOL_SIZE,
  };
}
