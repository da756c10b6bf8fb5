import { DynamicModule, Injectable, Module } from '@nestjs/common';
import { ReadinessService } from '@fleetcast/service-kit';
import { INVENTORY_CONFIG, InventoryConfig } from '../config/inventory.config';
import { DevicesNatsController } from './devices.nats.controller';
import { DevicesRepository } from './devices.repository';
import { DevicesService } from './devices.service';
import { ScanIngestConsumer } from './scan-ingest.consumer';

/** Readiness includes the database: an instance that cannot reach it takes no traffic. */
@Injectable()
export class DatabaseReadiness {
  constructor(readiness: ReadinessService, repository: DevicesRepository) {
    readiness.register('database', () => repository.ping());
  }
}

/** Devices and subnets: scan ingestion, the subnet map and the inventory queries. */
@Module({})
export class DevicesModule {
  static register(config: InventoryConfig): DynamicModule {
    return {
      module: DevicesModule,
      controllers: [DevicesNatsController],
      providers: [
        { provide: INVENTORY_CONFIG, useValue: config },
        DevicesRepository,
        DevicesService,
        ScanIngestConsumer,
        DatabaseReadiness,
      ],
      exports: [ScanIngestConsumer],
    };
  }
}
