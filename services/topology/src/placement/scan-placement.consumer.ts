import { BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import { Consumers, InventoryScanSubmitted, InventoryScanV1 } from '@fleetcast/contracts';
import { DurableConsumer, NatsConnection } from '@fleetcast/nats';
import { LOGGER, METRICS, NATS_CONNECTION } from '@fleetcast/service-kit';
import type { Logger, Registry } from '@fleetcast/telemetry';
import { TOPOLOGY_CONFIG, TopologyConfig } from '../config/topology.config';
import { PlacementService } from './placement.service';

/**
 * Owns the topology service's durable consumer of inventory scans (its own, beside the inventory's:
 * each sees every scan). A scan that is not JSON, fails its schema or speaks for another device than
 * its subject is dead-lettered by the shared consumer; the loop goes on. Started after migrations;
 * stopped before the connections close, so the batch in hand completes.
 */
@Injectable()
export class ScanPlacementConsumer implements BeforeApplicationShutdown {
  private consumer?: DurableConsumer<InventoryScanV1>;

  constructor(
    private readonly placement: PlacementService,
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(TOPOLOGY_CONFIG) private readonly config: TopologyConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS) private readonly metrics: Registry,
  ) {}

  async start(): Promise<void> {
    if (this.consumer) return;
    const consumer = new DurableConsumer<InventoryScanV1>({
      nc: this.nc,
      consumer: Consumers.topologyScanPlacement,
      versions: { [InventoryScanSubmitted.version]: InventoryScanSubmitted.schema },
      deviceOf: (scan) => scan.deviceId,
      handleBatch: (items) => this.placement.placeScans(items.map((item) => item.data)),
      logger: this.logger,
      metrics: this.metrics,
      maxBatch: this.config.PLACEMENT_BATCH_SIZE,
    });
    await consumer.start();
    this.consumer = consumer;
    this.logger.info({ consumer: Consumers.topologyScanPlacement.durableName }, 'scan placement started');
  }

  async beforeApplicationShutdown(): Promise<void> {
    const consumer = this.consumer;
    this.consumer = undefined;
    await consumer?.stop();
  }
}
