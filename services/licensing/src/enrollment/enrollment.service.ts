import { Inject, Injectable } from '@nestjs/common';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import {
  CreateEnrollmentToken,
  createEnrollmentTokenSchema,
  DeviceEnrolled,
  DeviceRetired,
  EnrolledDevice,
  EnrollmentToken,
  EnrollRequest,
  EnrollResponse,
  ErrorCode,
  FleetcastError,
  TasksRpc,
} from '@fleetcast/contracts';
import { RpcClient } from '@fleetcast/nats';
import { LOGGER, METRICS } from '@fleetcast/service-kit';
import { counter, Logger, Registry } from '@fleetcast/telemetry';
import { LICENSING_CONFIG, LicensingConfig } from '../config/licensing.config';
import { DeviceCredentialsService } from '../credentials/device-credentials.service';
import { LicensingOutbox } from '../outbox/licensing-outbox.service';
import { SeatsService } from '../seats/seats.service';
import { decideEnrollment } from './enrollment-decision';
import { DeviceRow, EnrollmentRepository, toDeviceView, toTokenView } from './enrollment.repository';

/** 32 random bytes: a token nobody guesses; base64url keeps it one word on a command line. */
const TOKEN_BYTES = 32;

const hashToken = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

/**
 * Enrollment and retirement. A device enrolls with a token and the public half of a key it made:
 * in one transaction the token's use, the device's row and its seat; then its NATS user JWT and
 * the control plane's signing keys to pin. Retiring revokes its key (the servers drop its
 * connection as soon as they take the new account JWT) and releases its seat.
 */
@Injectable()
export class EnrollmentService {
  private readonly outcomes;

  constructor(
    private readonly repository: EnrollmentRepository,
    private readonly seats: SeatsService,
    private readonly credentials: DeviceCredentialsService,
    private readonly outbox: LicensingOutbox,
    private readonly rpc: RpcClient,
    @Inject(LICENSING_CONFIG) private readonly config: LicensingConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS) metrics: Registry,
  ) {
    this.outcomes = counter(metrics, 'fleetcast_licensing_enrollments_total', 'Enrollment requests, by outcome (ok, reissued, or the refusal code)', ['outcome']);
  }

  async createToken(request: CreateEnrollmentToken): Promise<EnrollmentToken & { token: string }> {
    const input = createEnrollmentTokenSchema.parse(request);
    const token = randomBytes(TOKEN_BYTES).toString('base64url');
    const row = await this.repository.insertToken({
      id: randomUUID(),
      name: input.name,
      hash: hashToken(token),
      group: input.group ?? null,
      maxUses: input.maxUses,
      expiresAt: new Date(Date.now() + input.expiresInSeconds * 1000),
    });
    this.logger.info({ tokenId: row.id, name: row.name, maxUses: row.maxUses, expiresAt: row.expiresAt }, 'enrollment token created');
    return { ...toTokenView(row), token };
  }

  async listTokens(page: { limit: number; offset: number }) {
    const { rows, total } = await this.repository.listTokens(page);
    return { items: rows.map(toTokenView), total };
  }

  async revokeToken(id: string): Promise<EnrollmentToken> {
    const row = await this.repository.revokeToken(id, new Date());
    if (!row) throw new FleetcastError(ErrorCode.NotFound, `enrollment token ${id} not found`);
    return toTokenView(row);
  }

  async enroll(request: EnrollRequest): Promise<EnrollResponse> {
    try {
      return await this.enrollOnce(request);
    } catch (error) {
      this.outcomes.inc({ outcome: error instanceof FleetcastError ? error.code : 'error' });
      this.logger.warn({ deviceId: request.deviceId, err: (error as Error).message }, 'enrollment refused');
      throw error;
    }
  }

  private async enrollOnce(request: EnrollRequest): Promise<EnrollResponse> {
    // Asked first: without the keys to pin, an enrolled device could verify nothing.
    const { keys } = await this.rpc.call(TasksRpc.getSigningKeys, {});
    if (keys.length === 0) throw new FleetcastError(ErrorCode.Unavailable, 'the tasks service has no signing key yet; try again');
    const now = new Date();
    const { device, reissued } = await this.repository.transaction(async (m) => {
      const token = await this.repository.lockTokenByHash(m, hashToken(request.token));
      const existing = await this.repository.lockDevice(m, request.deviceId);
      const decision = decideEnrollment(token, existing, request.publicKey, now);
      if (decision.kind === 'refuse') throw new FleetcastError(decision.code, decision.message);
      if (decision.kind === 'reissue') return { device: existing!, reissued: true };
      // Refused (no license, no seat) before anything is written: the whole transaction rolls back.
      await this.seats.assign(request.deviceId, { manager: m });
      await this.repository.useToken(m, token!.id);
      const row = await this.repository.upsertDevice(m, {
        deviceId: request.deviceId,
        publicKey: request.publicKey,
        hostname: request.hostname,
        platform: request.platform,
        agentVersion: request.agentVersion,
        group: token!.group,
        tokenId: token!.id,
        enrolledAt: now,
      });
      await this.outbox.enqueue(m, [
        {
          subject: DeviceEnrolled.subject(),
          payload: { deviceId: row.deviceId, hostname: row.hostname, platform: row.platform, agentVersion: row.agentVersion, group: row.group, tokenId: row.tokenId, occurredAt: now.toISOString() },
        },
      ]);
      return { device: row, reissued: false };
    });
    if (!reissued) this.outbox.kick();
    const userJwt = await this.credentials.issue(device.deviceId, request.publicKey);
    this.outcomes.inc({ outcome: reissued ? 'reissued' : 'ok' });
    this.logger.info({ deviceId: device.deviceId, group: device.group, reissued }, 'device enrolled');
    return { deviceId: device.deviceId, userJwt, natsUrls: this.config.AGENT_NATS_URLS, controlPlaneKeys: keys, group: device.group };
  }

  /**
   * Retires a device: revokes its key, releases its seat, announces it. The revocation reaches the
   * NATS servers right after the commit; if none answers, it is pushed again until one does (and
   * the call still succeeds: the database has it, which is what every later push carries).
   */
  async retire(deviceId: string): Promise<EnrolledDevice> {
    const now = new Date();
    const row = await this.repository.transaction(async (m) => {
      const existing = await this.repository.lockDevice(m, deviceId);
      if (!existing) throw new FleetcastError(ErrorCode.DeviceNotEnrolled, `device ${deviceId} is not enrolled`);
      if (existing.state === 'retired') return existing;
      await this.repository.revokeKey(m, existing.publicKey, deviceId, now);
      await this.seats.release(deviceId, 'retired', { manager: m });
      const retired = await this.repository.retireDevice(m, deviceId, now);
      await this.outbox.enqueue(m, [{ subject: DeviceRetired.subject(), payload: { deviceId, occurredAt: now.toISOString() } }]);
      return retired;
    });
    this.outbox.kick();
    await this.credentials.publishRevocations().catch(() => undefined);
    this.logger.info({ deviceId }, 'device retired: credentials revoked, seat released');
    return toDeviceView(row);
  }

  async getDevice(deviceId: string): Promise<EnrolledDevice> {
    const row: DeviceRow | null = await this.repository.findDevice(deviceId);
    if (!row) throw new FleetcastError(ErrorCode.DeviceNotEnrolled, `device ${deviceId} is not enrolled`);
    return toDeviceView(row);
  }

  async listDevices(page: { limit: number; offset: number; state?: EnrolledDevice['state'] }) {
    const { rows, total } = await this.repository.listDevices(page);
    return { items: rows.map(toDeviceView), total };
  }
}
