import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { LOGGER } from '@fleetcast/service-kit';
import type { Logger } from '@fleetcast/telemetry';
import { LICENSING_CONFIG, LicensingConfig } from '../config/licensing.config';
import { LicenseService } from './license.service';

/**
 * Runs the license check every LICENSE_CHECK_INTERVAL_MS: expiry notices and gauges. Every
 * instance runs it; the check locks the license row with SKIP LOCKED and records each notice with
 * the license, so a notice is published once however many instances check.
 */
@Injectable()
export class LicenseExpiryWatcher implements OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private busy = false;

  constructor(
    private readonly license: LicenseService,
    @Inject(LICENSING_CONFIG) private readonly config: Pick<LicensingConfig, 'LICENSE_CHECK_INTERVAL_MS'>,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** Started after migrations (see the bootstrap); checks once at once, then on the interval. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.config.LICENSE_CHECK_INTERVAL_MS);
    void this.tick();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      await this.license.checkExpiry();
    } catch (error) {
      this.logger.warn({ err: error }, 'license check failed; will retry');
    } finally {
      this.busy = false;
    }
  }
}
