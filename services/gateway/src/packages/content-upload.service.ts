import { Inject, Injectable, PayloadTooLargeException } from '@nestjs/common';
import type { Request, Response } from 'express';
import { ErrorCode, FleetcastError, Package, TasksRpc } from '@fleetcast/contracts';
import { RpcClient } from '@fleetcast/nats';
import { GATEWAY_CONFIG, GatewayConfig } from '../config/gateway.config';
import { ContentOriginClient } from './content-origin.client';

/**
 * Uploads a package's content: checks that the package exists, streams the body to the origin, and
 * attaches the origin's descriptor to the package (which signs its manifest and makes it ready).
 */
@Injectable()
export class ContentUploadService {
  private readonly origin: ContentOriginClient;

  constructor(
    private readonly rpc: RpcClient,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {
    this.origin = new ContentOriginClient({ baseUrl: config.originUrl, maxUploadBytes: config.maxUploadBytes, token: config.originApiToken });
  }

  /**
   * Deletes a package through the tasks service (which refuses while a task not yet completed uses
   * it), then removes its content from the origin when no package is left with it. A failure at the
   * origin is a 503: the deletion stands, and deleting again finishes the removal.
   */
  async deletePackage(id: string, caller?: string): Promise<{ id: string; deletedAt: string; removedContentId: string | null }> {
    const deleted = await this.rpc.call(TasksRpc.deletePackage, { id });
    if (deleted.releasedContentId === null) return { id, deletedAt: deleted.deletedAt, removedContentId: null };
    try {
      await this.origin.deleteContent(deleted.releasedContentId, caller);
    } catch (error) {
      throw new FleetcastError(
        ErrorCode.Unavailable,
        `package ${id} is deleted but its content ${deleted.releasedContentId} could not be removed from the origin (${(error as Error).message}): delete the package again to finish`,
      );
    }
    return { id, deletedAt: deleted.deletedAt, removedContentId: deleted.releasedContentId };
  }

  async upload(packageId: string, req: Request, res: Response): Promise<Package> {
    try {
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared) && declared > this.config.maxUploadBytes) {
        throw new PayloadTooLargeException(`the package body of ${declared} bytes exceeds the limit of ${this.config.maxUploadBytes} bytes`);
      }
      // Before a byte is streamed: an unknown package must not cost the origin a whole upload.
      await this.rpc.call(TasksRpc.getPackage, { id: packageId });
      const descriptor = await this.origin.upload({
        stream: req,
        headers: req.headers,
        get complete() {
          return req.complete;
        },
      });
      // The tasks service reads the block hashes from the origin itself: it signs nothing a caller supplies.
      return await this.rpc.call(TasksRpc.attachContent, { packageId, contentId: descriptor.contentId });
    } catch (error) {
      // Answering an upload whose body was not read: Node would otherwise read (and discard) the
      // rest of it, possibly gigabytes, to keep the connection; closing it is cheaper for both sides.
      if (!req.complete && !res.headersSent) res.setHeader('Connection', 'close');
      throw error;
    }
  }
}
