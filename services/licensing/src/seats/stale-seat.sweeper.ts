import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { InventoryRpc } from '@fleetcast/contracts';
import { RpcClient } from '@fleetcast/nats';
import { LOGGER } from '@fleetcast/service-kit';
import type { Logger } from '@fleetcast/telemetry';
import { LICENSING_CONFIG, LicensingConfig } from '../config/licensing.config';
import { SeatsRepository } from './seats.repository';
import { SeatsService } from './seats.service';
import { seenBefore, staleCutoff } from './stale-seats';

/** Devices per inventory page: the inventory's largest page, so a sweep of 10,000 stale devices is ten requests. */
const PAGE_SIZE = 1000;
/**
 * Pages per sweep: 100,000 stale devices. The inventory keeps retired devices listed (it never
 * forgets a device), so the stale list only grows; the bound keeps one sweep a bounded amount of
 * work, and a fleet that outgrows it is told so in the log.
 */
const MAX_PAGES = 100;

/**
 * Releases the seats of devices the inventory has not seen for SEAT_STALE_AFTER_DAYS.
 *
 * How "seen" is known: the inventory records when each device's last scan arrived (agents scan at
 * start, on network changes and hourly) and lists the devices it considers stale, with that time,
 * through `inventory.qry.device.list.v1` (`stale: true`). The sweep pages through that list and
 * releases the seats of devices whose last scan is older than the licensing threshold, and whose
 * seat is older than it too (a device enrolled again under an ID the inventory remembers from long
 * ago is not stale). Nothing new is subscribed to and no per-seat request is made: the inventory's
 * stale list is short next to the fleet, and its own threshold (a day by default) is far below the
 * licensing one, so nothing is missed. A device that never reported a scan does not appear there
 * and keeps its seat until it is retired. One instance sweeps at a time: the sweep is claimed on
 * the allocation row, and each release is idempotent anyway.
 */
@Injectable()
export class StaleSeatSweeper implements OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private busy = false;
  /** Where a sweep that hit its page limit stopped: the next one on this instance goes on from there. */
  private resumeAt = 0;

  constructor(
    private readonly rpc: RpcClient,
    private readonly repository: SeatsRepository,
    private readonly seats: SeatsService,
    @Inject(LICENSING_CONFIG) private readonly config: Pick<LicensingConfig, 'SEAT_STALE_AFTER_DAYS' | 'SEAT_SWEEP_INTERVAL_MS'>,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** Started after migrations (see the bootstrap); the first sweep comes one interval after the start. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.config.SEAT_SWEEP_INTERVAL_MS);
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One sweep, if no other instance swept within half an interval; returns the devices whose seats were released. */
  async sweep(now = new Date()): Promise<string[]> {
    if (!(await this.repository.claimSweep(now, this.config.SEAT_SWEEP_INTERVAL_MS / 2))) return [];
    const cutoff = staleCutoff(now, this.config.SEAT_STALE_AFTER_DAYS);
    const released: string[] = [];
    let offset = this.resumeAt;
    let pages = 0;
    this.resumeAt = 0;
    for (;;) {
      const page = await this.rpc.call(InventoryRpc.listDevices, { stale: true, limit: PAGE_SIZE, offset });
      for (const deviceId of await this.repository.heldSince(seenBefore(page.items, cutoff), cutoff)) {
        if (await this.seats.release(deviceId, 'stale')) released.push(deviceId);
      }
      // Offsets shift when a device turns fresh between two pages: one it pushes back is seen by the next sweep.
      offset += page.items.length;
      pages += 1;
      if (page.items.length === 0 || offset >= page.total) break;
      if (pages >= MAX_PAGES) {
        this.logger.warn({ stale: page.total, read: offset }, 'stale-seat sweep stopped at its page limit; the next sweep goes on from here');
        this.resumeAt = offset;
        break;
      }
    }
    if (released.length > 0) this.logger.info({ released: released.length, cutoff: cutoff.toISOString() }, 'seats of stale devices released');
    return released;
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      await this.sweep();
    } catch (error) {
      this.logger.warn({ err: error }, 'stale-seat sweep failed (is the inventory answering?); will retry');
    } finally {
      this.busy = false;
    }
  }
}
