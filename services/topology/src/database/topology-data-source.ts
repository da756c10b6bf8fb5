import type { ServiceDataSourceOptions } from '@fleetcast/persistence';
import { TOPOLOGY_SCHEMA, TopologyConfig } from '../config/topology.config';
import { TOPOLOGY_MIGRATIONS } from '../migrations';
import { PlacementEntity } from '../placement/placement.entity';
import { OfficeEntity, SubnetEntity, TopologyVersionEntity } from '../topology/topology.entity';

/** The topology service's database settings, shared by the service and its migrate command. */
export function topologyDataSourceOptions(config: Pick<TopologyConfig, 'DATABASE_URL' | 'DB_POOL_SIZE'>): ServiceDataSourceOptions {
  return {
    url: config.DATABASE_URL,
    schema: TOPOLOGY_SCHEMA,
    entities: [TopologyVersionEntity, OfficeEntity, SubnetEntity, PlacementEntity],
    migrations: TOPOLOGY_MIGRATIONS,
    poolSize: config.DB_POOL_SIZE,
  };
}
