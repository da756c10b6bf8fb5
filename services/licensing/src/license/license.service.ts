import { Inject, Injectable } from '@nestjs/common';
import { LicenseExpiring, LicenseStatus } from '@fleetcast/contracts';
import { LOGGER, METRICS } from '@fleetcast/service-kit';
import { counter, gauge, Logger, Registry } from '@fleetcast/telemetry';
import { LICENSING_CONFIG, LicensingConfig } from '../config/licensing.config';
import { LicensingOutbox } from '../outbox/licensing-outbox.service';
import { graceUntil } from '../seats/seat-allocation';
import { SeatsService } from '../seats/seats.service';
import { LicensePayload, verifyLicenseKey } from './license-key';
import { LicenseKeyRejectedError } from './license.exception';
import { expiringNotice, licenseState } from './license-status';
import { LicenseRow, LicensesRepository } from './licenses.repository';

type LicenseServiceConfig = Pick<LicensingConfig, 'LICENSE_PUBLIC_KEY' | 'LICENSE_KEY' | 'LICENSE_EXPIRING_DAYS'>;

/** The active license: installation (verified offline), its status, and the expiry notices. */
@Injectable()
export class LicenseService {
  private readonly expiry;
  private readonly checks;

  constructor(
    private readonly licenses: LicensesRepository,
    private readonly seats: SeatsService,
    private readonly outbox: LicensingOutbox,
    @Inject(LICENSING_CONFIG) private readonly config: LicenseServiceConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS) metrics: Registry,
  ) {
    this.expiry = gauge(metrics, 'fleetcast_license_expiry_timestamp_seconds', 'Expiry of the active license, Unix time (alert on it minus time())');
    this.checks = counter(metrics, 'fleetcast_license_checks_total', 'Periodic license checks completed');
  }

  /**
   * Verifies a key against the configured public key and makes it the active license. Installing
   * the active license again changes nothing; any other verified license replaces it (an older one
   * too: the administrator's explicit choice), and every license installed stays in the history.
   * Seats held stay held whatever the new license grants; see `decideInstall` for the overage.
   */
  async install(keyText: string, now = new Date()): Promise<LicenseStatus> {
    const license = this.verify(keyText, now);
    await this.activate(license, keyText, now, () => true);
    return this.status(now);
  }

  /**
   * Installs LICENSE_KEY at start. It applies once: a key already in the history is skipped, and so
   * is a key issued before the active license, so that a restart never undoes a newer license
   * installed through the API. An expired key is only a warning (the service must keep starting
   * after the license it was deployed with runs out); any other refusal stops the start, naming why.
   */
  async installFromConfig(now = new Date()): Promise<void> {
    const keyText = this.config.LICENSE_KEY;
    if (keyText === undefined) return;
    let license: LicensePayload;
    try {
      license = this.verify(keyText, now);
    } catch (error) {
      if (error instanceof LicenseKeyRejectedError && error.reason === 'expired') {
        this.logger.warn({ reason: error.message }, 'LICENSE_KEY not installed: it has expired');
        return;
      }
      throw new Error(`LICENSE_KEY: ${(error as Error).message}`);
    }
    const installed = await this.activate(license, keyText, now, (active, known) => {
      if (known) return false;
      return active === null || active.issuedAt.getTime() <= Date.parse(license.issuedAt);
    });
    if (!installed) this.logger.info({ licenseId: license.licenseId }, 'LICENSE_KEY already installed or older than the active license: left as is');
  }

  async status(now = new Date()): Promise<LicenseStatus> {
    const [license, usage] = await Promise.all([this.licenses.active(), this.seats.usage()]);
    const seats = license?.seats ?? 0;
    const over = Math.max(0, usage.used - seats);
    this.seats.updateGauge(license, usage.used);
    this.expiry.set(license ? license.expiresAt.getTime() / 1000 : 0);
    return {
      state: licenseState(license?.expiresAt ?? null, now, this.config.LICENSE_EXPIRING_DAYS),
      policy: this.seats.policy.policy,
      licenseId: license?.licenseId ?? null,
      customer: license?.customer ?? null,
      seats,
      used: usage.used,
      over,
      features: license?.features ?? [],
      issuedAt: license?.issuedAt.toISOString() ?? null,
      expiresAt: license?.expiresAt.toISOString() ?? null,
      installedAt: license?.installedAt.toISOString() ?? null,
      graceUntil: over > 0 ? (graceUntil(usage.overageSince, this.seats.policy)?.toISOString() ?? null) : null,
    };
  }

  /**
   * The periodic check: publishes `license.expiring` for a threshold newly crossed (once per license
   * and threshold, recorded in the license's row in the same transaction as the outbox row), warns
   * while the license is expired, and refreshes the gauges. Returns the announced threshold.
   */
  async checkExpiry(now = new Date()): Promise<number | null> {
    const announced = await this.licenses.transaction(async (m) => {
      const license = await this.licenses.lockActiveForCheck(m);
      if (!license) return null;
      if (license.expiresAt.getTime() <= now.getTime()) {
        this.logger.warn(
          { licenseId: license.licenseId, expiresAt: license.expiresAt.toISOString() },
          'the license has expired: enrolled devices keep their seats and receive tasks, new devices are refused a seat until a renewed license is installed',
        );
      }
      const notice = expiringNotice(license.expiresAt, this.config.LICENSE_EXPIRING_DAYS, license.expiringNotified, now);
      if (!notice) return null;
      await this.licenses.recordExpiringNotified(m, license.licenseId, notice.notified);
      if (!notice.announce) return null;
      const event = LicenseExpiring.schema.parse({
        licenseId: license.licenseId,
        customer: license.customer,
        expiresAt: license.expiresAt.toISOString(),
        thresholdDays: notice.announce.thresholdDays,
        daysLeft: notice.announce.daysLeft,
        occurredAt: now.toISOString(),
      });
      await this.outbox.enqueue(m, [{ subject: LicenseExpiring.subject(), payload: event }]);
      this.logger.warn({ ...event }, `license ${license.licenseId} of ${license.customer} expires in ${event.daysLeft} day(s), at ${event.expiresAt}`);
      return notice.announce.thresholdDays;
    });
    if (announced !== null) this.outbox.kick();
    await this.status(now);
    this.checks.inc();
    return announced;
  }

  private verify(keyText: string, now: Date): LicensePayload {
    const verification = verifyLicenseKey(keyText, this.config.LICENSE_PUBLIC_KEY, now);
    if (!verification.ok) {
      this.logger.warn({ reason: verification.reason, message: verification.message }, 'license key refused');
      throw new LicenseKeyRejectedError(verification.reason, verification.message);
    }
    return verification.license;
  }

  /** Activates a verified license in one transaction with its seat consequences, if `accept` agrees; true when it did. */
  private async activate(
    license: LicensePayload,
    keyText: string,
    now: Date,
    accept: (active: LicenseRow | null, known: boolean) => boolean,
  ): Promise<boolean> {
    const outcome = await this.licenses.transaction(async (m) => {
      // The allocation lock first: installs take turns with each other and with seat changes.
      return this.seats.withAllocationLock(m, async () => {
        const active = await this.licenses.active(m);
        if (active?.licenseId === license.licenseId) return { installed: false, published: false };
        if (!accept(active, await this.licenses.known(m, license.licenseId))) return { installed: false, published: false };
        const row = await this.licenses.activate(m, license, keyText.replace(/\s+/g, ''), now);
        const published = await this.seats.applyLicense(m, row, now);
        this.logger.info(
          { licenseId: row.licenseId, customer: row.customer, seats: row.seats, expiresAt: row.expiresAt.toISOString(), replaced: active?.licenseId ?? null },
          'license installed',
        );
        return { installed: true, published };
      });
    });
    if (outcome.published) this.outbox.kick();
    if (outcome.installed) await this.status(now);
    return outcome.installed;
  }
}
