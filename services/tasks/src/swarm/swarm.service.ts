import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode, FleetcastError, MAX_SWARM_PEERS, officePolicy, OfficeRef, SignedPeerPass, SwarmAnnounce, SwarmView } from '@fleetcast/contracts';
import { endorsementToWire, signPeerPass } from '@fleetcast/content';
import { LOGGER } from '@fleetcast/service-kit';
import type { Logger } from '@fleetcast/telemetry';
import { SigningKeyService } from '../packages/signing-key.service';
import { DeviceStanding, OfficeDirectory, officeToRecord, sameOffice } from './office-directory';
import { SwarmRepository } from './swarm.repository';

/**
 * Timing of the swarm (docs/p2p.md).
 * - Announce every second while downloading: a block a device just verified reaches the others'
 *   views within a second, which on a 20 Mbit/s WAN link is under three blocks of 1 MiB.
 * - A partial holder is named for 10 s after its last announce: it missed several announces, so it
 *   is likely gone; fetchers verify and drop a peer that fails anyway.
 * - A complete holder is named for a day: it no longer announces, and its cache keeps the content
 *   (a peer that evicted it answers 404 and the fetcher asks another).
 * - The upstream lease lasts 6 s and is renewed by every announce of its holder: a holder that
 *   vanishes is replaced within 6 s, one that misses a single announce keeps it.
 * - A pass is valid for 10 minutes: a fetcher asks again before it ends; a pass lifted from a
 *   stolen device serves the thief that long at most after the device is retired.
 */
export const SWARM_TIMING = {
  announceIntervalMs: 1_000,
  partialFreshSeconds: 10,
  completeFreshSeconds: 24 * 3600,
  upstreamLeaseSeconds: 6,
  peerPassValidityMs: 10 * 60_000,
};

@Injectable()
export class SwarmService {
  constructor(
    private readonly swarm: SwarmRepository,
    private readonly offices: OfficeDirectory,
    private readonly signingKeys: SigningKeyService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** Records what the device holds of the task's content and answers its office's view. */
  async announce(deviceId: string, request: SwarmAnnounce): Promise<SwarmView> {
    const target = await this.swarm.targetContent(request.taskId, deviceId);
    if (target === null) throw new FleetcastError(ErrorCode.DeviceNotFound, `device ${deviceId} is not a target of task ${request.taskId} (or the task has no content)`);
    const { contentId } = target;
    const standing = await this.offices.standing(deviceId);
    // Where the device's bytes count in the task summary's offices: written only when it changed.
    const toRecord = officeToRecord(standing);
    if (toRecord !== undefined && !sameOffice(target.office, toRecord)) await this.swarm.recordOffice(request.taskId, deviceId, toRecord);
    const excluded = whyNoSwarm(standing);
    const base = { taskId: request.taskId, contentId, announceIntervalMs: SWARM_TIMING.announceIntervalMs };
    if (excluded !== null) {
      // Nothing recorded: a device outside any swarm is named to nobody and fetches alone.
      await this.swarm.dropHolding(contentId, deviceId);
      const office = standing.kind === 'placed' ? standing.office.office : null;
      return { ...base, office, noSwarmReason: excluded, peers: [], parentOffice: null, parentPeers: [], upstream: { deviceId, mine: true, expiresAt: null } };
    }
    const placed = (standing as Extract<DeviceStanding, { kind: 'placed' }>).office;
    const office = placed.office;
    const parent: OfficeRef | null = placed.parents[0] ?? null;
    const url = request.peerPort !== null && placed.address !== null ? peerUrl(placed.address, request.peerPort) : null;
    await this.swarm.saveHolding({ contentId, deviceId, officeId: office.id, url, complete: request.complete, runs: request.complete ? [] : request.runs });

    let lease;
    if (request.complete) {
      await this.swarm.releaseUpstream(contentId, office.id, deviceId);
      lease = await this.swarm.upstream(contentId, office.id);
    } else if (request.upstream) {
      lease = await this.swarm.acquireUpstream(contentId, office.id, deviceId, SWARM_TIMING.upstreamLeaseSeconds);
    } else {
      await this.swarm.releaseUpstream(contentId, office.id, deviceId);
      lease = await this.swarm.upstream(contentId, office.id);
    }
    const { partialFreshSeconds, completeFreshSeconds } = SWARM_TIMING;
    const peers = await this.swarm.holders(contentId, office.id, deviceId, MAX_SWARM_PEERS, partialFreshSeconds, completeFreshSeconds);
    const parentPeers = parent === null ? [] : await this.swarm.holders(contentId, parent.id, deviceId, MAX_SWARM_PEERS, partialFreshSeconds, completeFreshSeconds);
    return {
      ...base,
      office,
      noSwarmReason: null,
      peers,
      parentOffice: parent,
      parentPeers,
      upstream: { deviceId: lease?.deviceId ?? null, mine: lease?.deviceId === deviceId, expiresAt: lease?.expiresAt.toISOString() ?? null },
    };
  }

  /** The device's pass to its office's peers and its parent office's, signed with the key that signs assignments. */
  async peerPass(deviceId: string, now = new Date()): Promise<SignedPeerPass> {
    const standing = await this.offices.standing(deviceId);
    const placed = standing.kind === 'placed' && standing.office.placed ? standing.office : null;
    const document = {
      deviceId,
      officeId: placed?.office.id ?? null,
      parentOfficeId: placed?.parents[0]?.id ?? null,
      issuedAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + SWARM_TIMING.peerPassValidityMs).toISOString(),
    };
    const signer = await this.signingKeys.assignmentSigner(now);
    const signed = signPeerPass(document, signer.key);
    return { document, keyId: signed.keyId, signature: Buffer.from(signed.signature).toString('base64'), endorsements: signer.endorsements.map(endorsementToWire) };
  }
}

/** Why a device takes no part in a swarm; null when it does. */
export function whyNoSwarm(standing: DeviceStanding): string | null {
  if (standing.kind === 'none') return standing.reason;
  const { office, placed, deviceId } = standing.office;
  if (!placed) return `device ${deviceId} is in no office's subnets (unplaced, in the default office "${office.id}"): its LAN is unknown`;
  if (!officePolicy(office.type).shareWithPeers) return `office "${office.id}" is a ${office.type} office: its devices never share content with each other`;
  return null;
}

/** A peer block server's base URL at an address the topology placed the device by (IPv6 in brackets). */
export function peerUrl(address: string, port: number): string {
  return `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
}
