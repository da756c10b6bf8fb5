import type { ServiceDataSourceOptions } from '@fleetcast/persistence';
import { LICENSING_SCHEMA, LicensingConfig } from '../config/licensing.config';
import { LicenseEntity } from '../license/license.entity';
import { LICENSING_MIGRATIONS } from '../migrations';
import { SeatEntity } from '../seats/seat.entity';

/** The licensing service's database settings, shared by the service and its migrate command. */
export function licensingDataSourceOptions(config: Pick<LicensingConfig, 'DATABASE_URL' | 'DB_POOL_SIZE'>): ServiceDataSourceOptions {
  return {
    url: config.DATABASE_URL,
    schema: LICENSING_SCHEMA,
    entities: [LicenseEntity, SeatEntity],
    migrations: LICENSING_MIGRATIONS,
    poolSize: config.DB_POOL_SIZE,
  };
}
