import { Inject, Injectable, PayloadTooLargeException } from '@nestjs/common';
import type { Request, Response } from 'express';
import { CreateUpload, ErrorCode, FleetcastError, Package, TasksRpc, UploadSession } from '@fleetcast/contracts';
import { RpcClient } from '@fleetcast/nats';
import { GATEWAY_CONFIG, GatewayConfig } from '../config/gateway.config';
import { ContentOriginClient, OriginUpload } from './content-origin.client';
import { OriginRejectedError } from './packages.exception';

/** A chunk's outcome: where the upload stands, or the package it made ready. */
export type ChunkOutcome = { complete: false; offset: number } | { complete: true; offset: number; package: Package };

/**
 * Resumable uploads of a package's content. The origin keeps each upload on its disk (so it outlives
 * a restart of either process) and labels it with the package's ID; the gateway keeps nothing: it
 * checks the package, streams each chunk through as it arrives, and attaches the content once the
 * origin has the last byte.
 */
@Injectable()
export class UploadSessionsService {
  private readonly origin: ContentOriginClient;

  constructor(
    private readonly rpc: RpcClient,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {
    this.origin = new ContentOriginClient({ baseUrl: config.originUrl, maxUploadBytes: config.maxUploadBytes, token: config.originApiToken });
  }

  async create(request: CreateUpload, caller?: string): Promise<UploadSession> {
    if (request.size > this.config.maxUploadBytes) {
      throw new PayloadTooLargeException(`an upload of ${request.size} bytes exceeds the limit of ${this.config.maxUploadBytes} bytes`);
    }
    const pkg = await this.rpc.call(TasksRpc.getPackage, { id: request.packageId });
    if (pkg.status === 'ready') {
      throw new FleetcastError(ErrorCode.ContentMismatch, `package ${pkg.id} already has content ${pkg.contentId}: a package is immutable once ready, create a new version`);
    }
    return toSession(await this.origin.createUpload({ size: request.size, sha256: request.sha256, label: pkg.id }, caller));
  }

  status(uploadId: string, caller?: string): Promise<UploadSession> {
    return this.find(uploadId, caller).then(toSession);
  }

  async abort(uploadId: string, caller?: string): Promise<void> {
    await this.find(uploadId, caller);
    await this.origin.abortUpload(uploadId, caller);
  }

  /** Streams one chunk to the origin; with the last byte, attaches the content to the package. */
  async append(uploadId: string, req: Request, res: Response): Promise<ChunkOutcome> {
    try {
      const upload = await this.find(uploadId, req.headers.authorization);
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared) && declared > this.config.maxUploadBytes) {
        throw new PayloadTooLargeException(`a chunk of ${declared} bytes exceeds the limit of ${this.config.maxUploadBytes} bytes`);
      }
      const answer = await this.origin.appendChunk(uploadId, {
        stream: req,
        headers: req.headers,
        get complete() {
          return req.complete;
        },
      });
      if (!answer.complete) return answer;
      // As after a single-request upload: the tasks service reads the block hashes from the origin itself.
      const pkg = await this.rpc.call(TasksRpc.attachContent, { packageId: upload.label!, contentId: answer.descriptor.contentId });
      return { complete: true, offset: answer.offset, package: pkg };
    } catch (error) {
      // As for a single-request upload: a body left unread is cheaper to drop with the connection.
      if (!req.complete && !res.headersSent) res.setHeader('Connection', 'close');
      throw error;
    }
  }

  /** The origin's upload, if it is a package's (every upload made through the gateway is). */
  private async find(uploadId: string, caller?: string): Promise<OriginUpload & { label: string }> {
    try {
      const upload = await this.origin.uploadStatus(uploadId, caller);
      if (upload.label !== null) return upload as OriginUpload & { label: string };
    } catch (error) {
      if (!(error instanceof OriginRejectedError && error.status === 404)) throw error;
    }
    throw new FleetcastError(ErrorCode.UploadNotFound, `no upload ${uploadId}: never created, finished and expired, or abandoned and cleaned up`);
  }
}

function toSession(upload: OriginUpload): UploadSession {
  return {
    id: upload.id,
    packageId: upload.label ?? '',
    size: upload.size,
    offset: upload.offset,
    sha256: upload.sha256,
    createdAt: upload.createdAt,
    expiresAt: upload.expiresAt,
  };
}
