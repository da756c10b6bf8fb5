import { BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import { Consumers, InventoryScanSubmitted, InventoryScanV1 } from '@fleetcast/contracts';
import { DurableConsumer, NatsConnection } from '@fleetcast/nats';
import { LOGGER, METRICS, NATS_CONNECTION } from '@fleetcast/service-kit';
import type { Logger, Registry } from '@fleetcast/telemetry';
import { INVENTORY_CONFIG, InventoryConfig } from '../config/inventory.config';
import { DevicesService } from './devices.service';

/**
 * Owns the JetStream durable consumer of inventory scans. Every instance of the service pulls from
 * the same durable, so each scan is handled by one instance, and a restarted instance resumes
 * where the durable stands. Started explicitly, after migrations (a scan must not meet a missing
 * table); stopped before the database and NATS connections close, so the batch in hand completes.
 */
@Injectable()
export class ScanIngestConsumer implements BeforeApplicationShutdown {
  private consumer?: DurableConsumer<InventoryScanV1>;

  constructor(
    private readonly devices: DevicesService,
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(INVENTORY_CONFIG) private readonly config: InventoryConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS) private readonly metrics: Registry,
  ) {}

  async start(): Promise<void> {
    if (this.consumer) return;
    const consumer = new DurableConsumer<InventoryScanV1>({
      nc: this.nc,
      consumer: Consumers.inventoryScanIngest,
      versions: { [InventoryScanSubmitted.version]: InventoryScanSubmitted.schema },
      deviceOf: (scan) => scan.deviceId,
      handleBatch: async (items) => {
        await this.devices.ingest(items.map((item) => item.data));
      },
      logger: this.logger,
      metrics: this.metrics,
      maxBatch: this.config.SCAN_BATCH_SIZE,
    });
    await consumer.start();
    this.consumer = consumer;
    this.logger.info({ consumer: Consumers.inventoryScanIngest.durableName, maxBatch: this.config.SCAN_BATCH_SIZE }, 'scan ingestion started');
  }

  async beforeApplicationShutdown(): Promise<void> {
    const consumer = this.consumer;
    this.consumer = undefined;
    await consumer?.stop();
  }
}
