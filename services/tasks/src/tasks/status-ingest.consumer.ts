import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Consumers, deviceStatusV1Schema, deviceStatusV2Schema, DeviceStatusV1, DeviceStatusV2, Streams, upgradeDeviceStatus } from '@fleetcast/contracts';
import { DurableConsumer, ensureStreams, NatsConnection } from '@fleetcast/nats';
import { LOGGER, METRICS, NATS_CONNECTION } from '@fleetcast/service-kit';
import type { Logger, Registry } from '@fleetcast/telemetry';
import { TASKS_CONFIG, TasksConfig } from '../config/tasks.config';
import { TasksService } from './tasks.service';

/** Consumes agents' status reports from JetStream (durable, shared by all instances). */
@Injectable()
export class StatusIngestConsumer implements OnApplicationBootstrap, OnApplicationShutdown {
  private consumer?: DurableConsumer<DeviceStatusV1 | DeviceStatusV2>;

  constructor(
    @Inject(TASKS_CONFIG) private readonly config: TasksConfig,
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS) private readonly metrics: Registry,
    private readonly tasks: TasksService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const streams = await ensureStreams(this.nc, Object.values(Streams), { replicas: this.config.jetstreamReplicas });
    if (streams.updated.length > 0) this.logger.info({ updated: streams.updated }, 'JetStream streams updated to their definitions');
    this.consumer = new DurableConsumer<DeviceStatusV1 | DeviceStatusV2>({
      nc: this.nc,
      consumer: Consumers.deviceStatusIngest,
      versions: { 1: deviceStatusV1Schema, 2: deviceStatusV2Schema },
      deviceOf: (report) => report.deviceId,
      handleBatch: (items) => this.tasks.applyReports(items.map((i) => upgradeDeviceStatus(i.data))),
      logger: this.logger,
      metrics: this.metrics,
      maxBatch: this.config.statusBatchSize,
    });
    await this.consumer.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.consumer?.stop();
  }
}
