import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { attachContentSchema, createPackageSchema, ErrorCode, FleetcastError, Package, SignedManifest } from '@fleetcast/contracts';
import { manifestShapeError, signManifest, toWire } from '@fleetcast/content';
import { PackagesRepository } from './packages.repository';
import { SigningKeyService } from './signing-key.service';

@Injectable()
export class PackagesService {
  constructor(
    private readonly packages: PackagesRepository,
    private readonly signingKey: SigningKeyService,
  ) {}

  create(request: z.infer<typeof createPackageSchema>): Promise<Package> {
    return this.packages.insert({ id: randomUUID(), ...request });
  }

  async get(id: string): Promise<Package> {
    const found = await this.packages.find(id);
    if (!found) throw new FleetcastError(ErrorCode.PackageNotFound, `package ${id} not found`);
    return found;
  }

  list(limit: number, offset: number) {
    return this.packages.list(limit, offset);
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
    const manifest = {
      contentId: request.contentId,
      size: request.size,
      blockSize: request.blockSize,
      blockHashes: new Uint8Array(Buffer.from(request.blockHashes, 'base64')),
    };
    const shapeError = manifestShapeError(manifest);
    if (shapeError) throw new FleetcastError(ErrorCode.ContractInvalid, `manifest is inconsistent: ${shapeError}`);
    const signed = signManifest(manifest, await this.signingKey.get());
    return this.packages.attachContent(existing.id, signed);
  }

  async getManifest(contentId: string): Promise<SignedManifest> {
    const signed = await this.packages.findManifest(contentId);
    if (!signed) throw new FleetcastError(ErrorCode.ManifestNotFound, `no ready package has content ${contentId}`);
    return toWire(signed);
  }

  async getSigningKey(): Promise<{ keyId: string; publicKeyDer: string }> {
    const key = await this.signingKey.get();
    return { keyId: key.keyId, publicKeyDer: key.publicKey.export({ type: 'spki', format: 'der' }).toString('base64') };
  }
}
