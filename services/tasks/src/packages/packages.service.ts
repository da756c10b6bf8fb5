import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { EntityManager } from 'typeorm';
import { z } from 'zod';
import {
  attachContentSchema,
  contentDescriptorSchema,
  ContentDescriptor,
  ContentKey,
  createPackageSchema,
  ErrorCode,
  FleetcastError,
  ListPackagesQuery,
  MANIFEST_PAGE_BLOCKS,
  MAX_CONTENT_DELETIONS,
  Package,
  PackageContentStatus,
  PackageDeleted,
  SignedContentDeletions,
  SignedManifest,
  SigningKeyInfo,
  SigningKeySet,
} from '@fleetcast/contracts';
import {
  CONFIDENTIAL_SCHEME,
  generateContentKey,
  unwrapContentKey,
  wrapContentKey,
} from '@fleetcast/content';
import { endorsementToWire, issueDownloadToken, manifestHash, manifestShapeError, signContentDeletions, signManifest, toWirePage } from '@fleetcast/content';
import { LOGGER } from '@fleetcast/service-kit';
import { TASKS_CONFIG, TasksConfig } from '../config/tasks.config';
import type { Logger } from '@fleetcast/telemetry';
import { PackagesRepository } from './packages.repository';
import { SigningKeyService } from './signing-key.service';

/** Reading a package's block hashes is one small request (32 bytes a MiB); a slow origin is a failed attach, tried again by the caller. */
const ORIGIN_TIMEOUT_MS = 10_000;

/**
 * How long a deletion notice holds. Devices ask at every scan (minutes apart) and act at once, so an
 * hour is plenty; it is short so that a notice captured on the way is worth little.
 */
const DELETION_NOTICE_VALIDITY_MS = 60 * 60 * 1000;

/**
 * Sealing reads and writes the whole content at the origin (a 4 GiB package at a few hundred MB/s
 * takes tens of seconds); ten minutes covers the largest packages on a slow disk.
 */
const SEAL_TIMEOUT_MS = 10 * 60_000;

/** Origin requests in flight at once while checking a page of packages. */
const CONTENT_CHECKS_AT_ONCE = 8;

@Injectable()
export class PackagesService {
  constructor(
    private readonly packages: PackagesRepository,
    private readonly signingKey: SigningKeyService,
    @Inject(TASKS_CONFIG) private readonly config: TasksConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  create(request: z.infer<typeof createPackageSchema>): Promise<Package> {
    return this.packages.insert({ id: randomUUID(), ...request });
  }

  async get(id: string): Promise<Package> {
    const found = await this.packages.find(id);
    if (!found) throw new FleetcastError(ErrorCode.PackageNotFound, `package ${id} not found`);
    return found;
  }

  /** Holds a live package against deletion for the rest of the caller's transaction; false when it is deleted or unknown. */
  lockLive(m: EntityManager, id: string): Promise<boolean> {
    return this.packages.lockLive(m, id);
  }

  list(query: ListPackagesQuery) {
    return this.packages.list(query);
  }

  /**
   * Deletes a package (marks it deleted): refused while a scheduled or active task uses it. Says which
   * content no package uses any more, for the caller to remove from the origin; devices learn it
   * from their next deletion notice (`contentDeletions`).
   */
  async delete(id: string, now = new Date()): Promise<PackageDeleted> {
    const result = await this.packages.markDeleted(id, now);
    if (result.outcome === 'not-found') throw new FleetcastError(ErrorCode.PackageNotFound, `package ${id} not found`);
    if (result.outcome === 'in-use') {
      const more = result.activeTasks > result.taskIds.length ? ` and ${result.activeTasks - result.taskIds.length} more` : '';
      throw new FleetcastError(
        ErrorCode.PackageInUse,
        `package ${id} is used by ${result.activeTasks} task(s) not yet completed (${result.taskIds.join(', ')}${more}): wait for them to end, then delete it`,
      );
    }
    this.logger.info({ packageId: id, releasedContentId: result.releasedContentId }, 'package deleted');
    return { id, deletedAt: result.deletedAt.toISOString(), releasedContentId: result.releasedContentId };
  }

  /**
   * What this device may drop from its cache, signed for it with the key that signs assignments (and
   * the endorsements that lead to that key), valid for an hour.
   */
  async contentDeletions(deviceId: string, now = new Date()): Promise<SignedContentDeletions> {
    const contentIds = await this.packages.deletedContentFor(deviceId, MAX_CONTENT_DELETIONS);
    const signer = await this.signingKey.assignmentSigner(now);
    const document = { deviceId, contentIds, issuedAt: now.toISOString(), expiresAt: new Date(now.getTime() + DELETION_NOTICE_VALIDITY_MS).toISOString() };
    const signed = signContentDeletions(document, signer.key);
    return { document, keyId: signed.keyId, signature: Buffer.from(signed.signature).toString('base64'), endorsements: signer.endorsements.map(endorsementToWire) };
  }

  /**
   * A page of packages (oldest first) with whether the origin still holds each one's content. An
   * origin that does not answer fails the page: the caller (activation) tries it again.
   */
  async contentStatus(limit: number, offset: number): Promise<{ items: PackageContentStatus[]; total: number }> {
    const { items, total } = await this.packages.listOldestFirst(limit, offset);
    const statuses: PackageContentStatus[] = [];
    // A few at a time: a page of a thousand packages must not open a thousand requests to the origin at once.
    for (let i = 0; i < items.length; i += CONTENT_CHECKS_AT_ONCE) {
      statuses.push(...(await Promise.all(items.slice(i, i + CONTENT_CHECKS_AT_ONCE).map((p) => this.contentStatusOf(p)))));
    }
    return { items: statuses, total };
  }

  private async contentStatusOf(p: Package): Promise<PackageContentStatus> {
    if (p.status !== 'ready' || p.contentId === null) return { packageId: p.id, contentId: null, state: 'no-content', detail: 'no content was uploaded for it yet' };
    try {
      await this.storedContent(p.contentId);
      return { packageId: p.id, contentId: p.contentId, state: 'available', detail: null };
    } catch (error) {
      if (error instanceof FleetcastError && error.code === ErrorCode.ContentNotFound) {
        return { packageId: p.id, contentId: p.contentId, state: 'missing', detail: `the origin holds no content ${p.contentId}: upload it again` };
      }
      throw error;
    }
  }

  /**
   * Records the content the origin stored for a package and signs its manifest. Attaching the same
   * content again is a no-op; different content to a ready package is refused (a package is immutable
   * once tasks may reference it: upload a new version instead).
   */
  async attachContent(request: z.infer<typeof attachContentSchema>): Promise<Package> {
    const existing = await this.get(request.packageId);
    if (existing.status === 'ready') {
      if (existing.contentId === request.contentId) return existing;
      throw new FleetcastError(ErrorCode.ContentMismatch, `package ${existing.id} already has content ${existing.contentId}`);
    }
    const contentKey = existing.confidential ? generateContentKey() : null;
    // A confidential package's content is sealed at the origin under a key made for this attach (a
    // new key for every attempt, so that no key ever seals two different contents: GCM's nonces are
    // the block indexes); the manifest and everything downstream are over the ciphertext.
    const stored = contentKey ? await this.sealAtOrigin(request.contentId, existing.id, contentKey) : await this.storedContent(request.contentId);
    const manifest = {
      contentId: stored.contentId,
      size: stored.size,
      blockSize: stored.blockSize,
      blockHashes: new Uint8Array(Buffer.from(stored.blockHashes, 'base64')),
    };
    const shapeError = manifestShapeError(manifest);
    if (shapeError) throw new FleetcastError(ErrorCode.ContractInvalid, `manifest is inconsistent: ${shapeError}`);
    const signed = signManifest(manifest, await this.signingKey.get());
    const secret = this.config.contentKeySecret;
    const keyAtRest = contentKey && (secret ? { key: wrapContentKey(secret, existing.id, contentKey), wrapped: true } : { key: contentKey, wrapped: false });
    const attached = await this.packages.attachContent(existing.id, signed, keyAtRest);
    if (attached === null) {
      // Another attach made it ready meanwhile: as when it was ready before.
      const now = await this.get(existing.id);
      if (now.contentId === stored.contentId) return now;
      throw new FleetcastError(ErrorCode.ContentMismatch, `package ${existing.id} already has content ${now.contentId}`);
    }
    if (contentKey) this.logger.info({ packageId: existing.id, contentId: stored.contentId, keyWrapped: keyAtRest!.wrapped }, 'confidential package sealed');
    if (contentKey && !secret) this.logger.warn({ packageId: existing.id }, 'CONTENT_KEY_SECRET is not set: the content key is stored unwrapped, a copy of the database opens the package');
    return attached;
  }

  /**
   * Has the origin seal the uploaded plaintext under `key` and answers the sealed content's
   * descriptor (what the manifest is signed over). The plaintext is removed from the origin unless
   * another package has the same bytes: the origin serves content by its hash, and only the sealed
   * copy may stay reachable.
   */
  private async sealAtOrigin(plainContentId: string, packageId: string, key: Buffer): Promise<ContentDescriptor> {
    const removeSource = !(await this.packages.contentUsedElsewhere(plainContentId, packageId));
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.config.originApiToken) headers.authorization = `Bearer ${this.config.originApiToken}`;
    let res: Response;
    try {
      res = await fetch(`${this.config.originUrl}/v1/content/${plainContentId}/seal`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ packageId, key: key.toString('base64'), removeSource }),
        signal: AbortSignal.timeout(SEAL_TIMEOUT_MS),
      });
    } catch (error) {
      throw new FleetcastError(ErrorCode.Unavailable, `the origin did not seal content ${plainContentId}: ${(error as Error).message}`);
    }
    if (res.status === 404) throw new FleetcastError(ErrorCode.ContentNotFound, `the origin holds no content ${plainContentId}; upload it first`);
    if (!res.ok) throw new FleetcastError(ErrorCode.Unavailable, `the origin answered ${res.status} to sealing ${plainContentId}: ${(await res.text().catch(() => '')).slice(0, 300)}`);
    const parsed = contentDescriptorSchema.safeParse(await res.json().catch(() => undefined));
    if (!parsed.success) throw new FleetcastError(ErrorCode.Internal, `the origin's account of sealed ${plainContentId} does not match its contract`);
    return parsed.data;
  }

  /**
   * The content key of a confidential package, for a device that is a target of an install task
   * with it that is not over. Everyone else gets TASKS.NOT_A_TARGET: a key is the plaintext.
   */
  async contentKey(deviceId: string, contentId: string): Promise<ContentKey> {
    const found = await this.packages.contentKeyFor(deviceId, contentId);
    if (found === null) throw new FleetcastError(ErrorCode.ManifestNotFound, `no ready package has content ${contentId}`);
    if (!found.confidential) throw new FleetcastError(ErrorCode.NotConfidential, `content ${contentId} is not confidential: it is not encrypted, there is no key`);
    if (!found.targeted) {
      this.logger.warn({ deviceId, contentId, packageId: found.packageId }, 'content key refused to a device that is not a target');
      throw new FleetcastError(ErrorCode.NotATarget, `device ${deviceId} is not a target of an install task not yet over with package ${found.packageId}`);
    }
    if (found.key === null) throw new FleetcastError(ErrorCode.Internal, `package ${found.packageId} is confidential but has no key`);
    let key = found.key;
    if (found.wrapped) {
      if (!this.config.contentKeySecret) throw new FleetcastError(ErrorCode.Unavailable, `the key of package ${found.packageId} is wrapped but CONTENT_KEY_SECRET is not set`);
      try {
        key = unwrapContentKey(this.config.contentKeySecret, found.packageId, found.key);
      } catch {
        throw new FleetcastError(ErrorCode.Internal, `the key of package ${found.packageId} does not unwrap under CONTENT_KEY_SECRET (was it changed?)`);
      }
    }
    this.logger.info({ deviceId, contentId, packageId: found.packageId }, 'content key given to a target');
    return { contentId, packageId: found.packageId, scheme: CONFIDENTIAL_SCHEME, key: key.toString('base64') };
  }

  /** What the origin computed while it stored the content: the only hashes a manifest is signed over. */
  private async storedContent(contentId: string): Promise<ContentDescriptor> {
    const url = `${this.config.originUrl}/v1/content/${contentId}/blocks`;
    let res: Response;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(ORIGIN_TIMEOUT_MS) });
    } catch (error) {
      throw new FleetcastError(ErrorCode.Unavailable, `the origin did not answer for content ${contentId}: ${(error as Error).message}`);
    }
    if (res.status === 404) throw new FleetcastError(ErrorCode.ContentNotFound, `the origin holds no content ${contentId}; upload it first`);
    if (!res.ok) throw new FleetcastError(ErrorCode.Unavailable, `the origin answered ${res.status} for the blocks of ${contentId}`);
    const parsed = contentDescriptorSchema.safeParse(await res.json().catch(() => undefined));
    if (!parsed.success || parsed.data.contentId !== contentId) {
      throw new FleetcastError(ErrorCode.Internal, `the origin's account of ${contentId} does not match its contract`);
    }
    return parsed.data;
  }

  /**
   * A download token for a device that is a target of a task with this content (the device is the
   * one its NATS credentials name). Null when this control plane issues none.
   */
  async downloadToken(deviceId: string, contentId: string, now = new Date()): Promise<{ token: string | null; expiresAt: string | null }> {
    const secret = this.config.downloadTokenSecret;
    if (!secret) return { token: null, expiresAt: null };
    if (!(await this.packages.deviceHasContentTask(deviceId, contentId))) {
      throw new FleetcastError(ErrorCode.DeviceNotFound, `device ${deviceId} is not a target of any task with content ${contentId}`);
    }
    const expiresAt = new Date(now.getTime() + this.config.downloadTokenTtlSeconds * 1000);
    return { token: issueDownloadToken(secret, { deviceId, contentId, expiresAt }), expiresAt: expiresAt.toISOString() };
  }

  /** The page of the signed manifest that starts at `fromBlock` (the whole manifest when it fits one reply). */
  async getManifest(contentId: string, fromBlock = 0): Promise<SignedManifest> {
    const signed = await this.packages.findManifest(contentId);
    if (!signed) throw new FleetcastError(ErrorCode.ManifestNotFound, `no ready package has content ${contentId}`);
    return toWirePage(signed, fromBlock, MANIFEST_PAGE_BLOCKS);
  }

  /** SHA-256 of the signing bytes of the manifest of `contentId`: what an assignment names, whichever key signed the manifest. */
  async manifestHashOf(contentId: string): Promise<string> {
    const signed = await this.packages.findManifest(contentId);
    if (!signed) throw new FleetcastError(ErrorCode.ManifestNotFound, `no ready package has content ${contentId}`);
    return manifestHash(signed.value);
  }

  /** The active key (what existing callers pinned before key sets). */
  async getSigningKey(): Promise<{ keyId: string; publicKeyDer: string }> {
    const key = await this.signingKey.get();
    return { keyId: key.keyId, publicKeyDer: key.publicKey.export({ type: 'spki', format: 'der' }).toString('base64') };
  }

  getSigningKeys(): Promise<SigningKeySet> {
    return this.signingKey.keySet();
  }

  async listSigningKeys(): Promise<{ items: SigningKeyInfo[] }> {
    return { items: await this.signingKey.list() };
  }

  async rotateSigningKey(): Promise<{ items: SigningKeyInfo[] }> {
    return { items: await this.signingKey.rotate(new Date()) };
  }

  /**
   * Ends a rotation's overlap: the key is retired and every manifest it signed is signed again with
   * the active key in the same transaction, so that devices, which drop a retired key, can still
   * verify those packages. Assignments signed from now on name the key as retired.
   */
  async retireSigningKey(keyId: string): Promise<{ items: SigningKeyInfo[] }> {
    const items = await this.signingKey.transaction(async (m) => {
      await this.signingKey.retire(m, keyId, new Date());
      const active = await this.signingKey.get(m);
      const manifests = await this.packages.manifestsSignedBy(m, keyId);
      for (const { packageId, manifest } of manifests) await this.packages.updateSignature(m, packageId, signManifest(manifest, active));
      if (manifests.length > 0) this.logger.info({ retired: keyId, active: active.keyId, manifests: manifests.length }, 'manifests signed again with the active key');
      return this.signingKey.list(m);
    });
    return { items };
  }
}
