import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { ErrorCode, FleetcastError } from '@fleetcast/contracts';
import { connectNats, natsAuthenticator, NatsConnection } from '@fleetcast/nats';
import { queryRows } from '@fleetcast/persistence';
import { LOGGER, METRICS } from '@fleetcast/service-kit';
import { counter, Logger, Registry } from '@fleetcast/telemetry';
import { decodeClaims, encodeFleetAccount, issueDeviceUserJwt, keyPairFromSeed, publicKeyOf, pushAccountJwt, TRUST_FILES, UserIssuer } from '@fleetcast/trust';
import { LICENSING_CONFIG, LicensingConfig } from '../config/licensing.config';

/** What the service reads from the trust directory at start. */
interface Authority {
  issuer: UserIssuer;
  operatorSigningSeed: string;
  accountSigningPublicKey: string;
  systemCredsFile: string;
}

/** Revocations not yet confirmed by a server are pushed again this often, until one confirms. */
const REPUSH_INTERVAL_MS = 5_000;
/** Serialises the read-and-push of the account JWT across instances: an older set never overwrites a newer. */
const PUSH_LOCK_KEY = 0x6c696365; // 'lice'

/**
 * Issues devices their NATS user JWTs and revokes them. Holds the fleet account's signing key (to
 * issue) and an operator signing key (to re-sign the account with its revocations), read from the
 * trust directory (`TRUST_DIR`); pushes the account JWT to the servers' resolver over a
 * system-account connection. The database's `revoked_keys` is the source of truth: every push
 * carries all of them, so a push that failed is repaired by the next one.
 */
@Injectable()
export class DeviceCredentialsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private authority?: Promise<Authority | null>;
  private system?: Promise<NatsConnection>;
  private repushTimer?: NodeJS.Timeout;
  private stopped = false;
  private readonly pushes;

  constructor(
    @Inject(LICENSING_CONFIG) private readonly config: LicensingConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS) metrics: Registry,
  ) {
    this.pushes = counter(metrics, 'fleetcast_licensing_account_pushes_total', 'Fleet account JWTs (with revocations) pushed to NATS, by outcome', ['outcome']);
  }

  /** At start, the servers learn every revocation the database holds (one may have been missed). */
  async onApplicationBootstrap(): Promise<void> {
    // A failure is logged and retried by publishRevocations itself.
    if (await this.loadAuthority()) await this.publishRevocations().catch(() => undefined);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.repushTimer);
    if (this.system) await (await this.system.catch(() => undefined))?.drain().catch(() => undefined);
  }

  private loadAuthority(): Promise<Authority | null> {
    this.authority ??= (async () => {
      const dir = this.config.TRUST_DIR;
      if (!dir) {
        this.logger.warn('no TRUST_DIR: devices cannot be enrolled (NATS credentials cannot be issued)');
        return null;
      }
      const read = (file: string) => readFile(join(dir, file), 'utf8').then((text) => text.trim());
      const accountJwt = await read(TRUST_FILES.fleetAccountJwt);
      const signingSeed = await read(TRUST_FILES.fleetSigningSeed);
      return {
        issuer: { accountPublicKey: decodeClaims(accountJwt).sub, signingSeed },
        operatorSigningSeed: await read(TRUST_FILES.operatorSigningSeed),
        accountSigningPublicKey: publicKeyOf(signingSeed),
        systemCredsFile: join(dir, TRUST_FILES.systemCreds),
      };
    })();
    return this.authority;
  }

  private async requireAuthority(): Promise<Authority> {
    const authority = await this.loadAuthority();
    if (!authority) throw new FleetcastError(ErrorCode.CredentialsUnavailable, 'this licensing service has no trust directory (TRUST_DIR), so it cannot issue device credentials');
    return authority;
  }

  /** A user JWT for the key the device made: it may act on its own subjects only. */
  async issue(deviceId: string, publicKey: string): Promise<string> {
    return issueDeviceUserJwt((await this.requireAuthority()).issuer, deviceId, publicKey);
  }

  /**
   * Pushes the fleet account with every revoked key in the database. The servers close the
   * connections of newly revoked users when they take it. A failure is retried every few seconds;
   * a success is repeated every REVOCATION_REFRESH_MS, for servers that were cut off at the time.
   */
  async publishRevocations(): Promise<void> {
    clearTimeout(this.repushTimer);
    try {
      const authority = await this.requireAuthority();
      await this.dataSource.transaction(async (m) => {
        await m.query('SELECT pg_advisory_xact_lock($1)', [PUSH_LOCK_KEY]);
        const rows = await queryRows<{ publicKey: string; at: number }>(m, `SELECT public_key AS "publicKey", extract(epoch FROM revoked_at)::bigint AS at FROM licensing.revoked_keys`);
        // A JWT issued at or before the revocation time is refused: one second later covers the second it was revoked in.
        const revocations = Object.fromEntries(rows.map((r) => [r.publicKey, Number(r.at) + 1]));
        const jwt = await encodeFleetAccount(authority.issuer.accountPublicKey, authority.accountSigningPublicKey, keyPairFromSeed(authority.operatorSigningSeed), revocations);
        await pushAccountJwt(await this.systemConnection(authority), jwt);
        this.logger.info({ revoked: rows.length }, 'fleet account pushed to NATS');
      });
      this.pushes.inc({ outcome: 'ok' });
      this.schedulePush(this.config.REVOCATION_REFRESH_MS);
    } catch (error) {
      this.pushes.inc({ outcome: 'failed' });
      this.logger.error({ err: (error as Error).message }, 'pushing revocations to NATS failed; trying again');
      this.schedulePush(REPUSH_INTERVAL_MS);
      throw error;
    }
  }

  private schedulePush(afterMs: number): void {
    if (afterMs <= 0 || this.stopped) return;
    this.repushTimer = setTimeout(() => void this.publishRevocations().catch(() => undefined), afterMs);
    this.repushTimer.unref();
  }

  private systemConnection(authority: Authority): Promise<NatsConnection> {
    this.system ??= connectNats({
      servers: this.config.NATS_URL,
      name: 'fleetcast-licensing-system',
      logger: this.logger,
      authenticator: natsAuthenticator({ credsFile: authority.systemCredsFile }),
      tlsCaFile: this.config.NATS_TLS_CA_FILE,
    });
    return this.system;
  }
}
