import { IncomingMessage, ServerResponse } from 'node:http';
import { Controller, Delete, Get, Head, HttpCode, Inject, Param, Patch, Post, Req, Res, UseGuards } from '@nestjs/common';
import { ErrorCode, FleetcastError } from '@fleetcast/contracts';
import { BearerTokenGuard } from '../auth/bearer-token.guard';
import { ORIGIN_CONFIG, OriginConfig } from '../config/origin.config';
import { sendJson } from '../http/send-json';
import { isUploadId, parseChunkHeaders, parseUploadCreation, UPLOAD_HEADER } from './upload-headers';
import { UploadSessionsService, UploadView } from './upload-sessions.service';
import { UploadNotFoundError, UploadOffsetMismatchError } from './upload.exception';

function uploadIdOf(raw: string): string {
  // An ID this origin never makes names no upload: a 404, like an unknown one.
  if (!isUploadId(raw)) throw new UploadNotFoundError(raw);
  return raw;
}

function progressHeaders(view: Pick<UploadView, 'offset' | 'size' | 'expiresAt'>): Record<string, string> {
  return {
    'Upload-Offset': String(view.offset),
    'Upload-Length': String(view.size),
    'Upload-Expires': new Date(view.expiresAt).toUTCString(),
    'Cache-Control': 'no-store',
  };
}

/**
 * Resumable uploads (see UploadSessionsService). Only the control plane uploads: every route needs
 * the origin's API token when tokens are configured. Routes that stream take the raw request.
 */
@Controller('v1/uploads')
@UseGuards(BearerTokenGuard)
export class UploadsHttpController {
  constructor(
    private readonly uploads: UploadSessionsService,
    @Inject(ORIGIN_CONFIG) private readonly config: OriginConfig,
  ) {}

  /** Headers `Upload-Length` (required), `X-Content-Sha256` and `X-Upload-Label` (optional); no body. */
  @Post()
  async create(@Req() req: IncomingMessage, @Res() res: ServerResponse): Promise<void> {
    const view = await this.uploads.create(parseUploadCreation(req.headers, this.config.maxUploadBytes));
    sendJson(res, 201, view, { Location: `/v1/uploads/${view.id}`, ...progressHeaders(view) });
  }

  @Head(':id')
  async head(@Param('id') id: string, @Res() res: ServerResponse): Promise<void> {
    const view = await this.uploads.status(uploadIdOf(id));
    res.writeHead(200, progressHeaders(view)).end();
  }

  @Get(':id')
  async get(@Param('id') id: string, @Res() res: ServerResponse): Promise<void> {
    const view = await this.uploads.status(uploadIdOf(id));
    sendJson(res, 200, view, progressHeaders(view));
  }

  /**
   * One chunk: header `Upload-Offset` (where it starts), the bytes as the body. 204 with the new
   * `Upload-Offset` while bytes are missing; with the last byte, the content descriptor (201 when
   * stored, 200 when the store had it). A wrong offset is a 409 carrying the right one.
   */
  @Patch(':id')
  async append(@Param('id') id: string, @Req() req: IncomingMessage, @Res() res: ServerResponse): Promise<void> {
    const uploadId = uploadIdOf(id);
    const { offset, length } = parseChunkHeaders(req.headers);
    if (req.readableEnded || (req as { body?: unknown }).body !== undefined) {
      throw new FleetcastError(ErrorCode.Internal, 'the chunk body was consumed before the handler; create the app without a body parser');
    }
    try {
      const result = await this.uploads.append(uploadId, offset, length, req);
      if (!result.complete) {
        res.writeHead(204, { 'Upload-Offset': String(result.offset), 'Cache-Control': 'no-store' }).end();
        return;
      }
      sendJson(res, result.created ? 201 : 200, result.descriptor, { 'Upload-Offset': String(result.offset), Location: `/v1/content/${result.descriptor.contentId}` });
    } catch (error) {
      // The error filter answers with the code's status and body; the header set here goes with it.
      if (error instanceof UploadOffsetMismatchError && !res.headersSent) res.setHeader('Upload-Offset', String(error.offset));
      throw error;
    }
  }

  @Delete(':id')
  @HttpCode(204)
  async abort(@Param('id') id: string): Promise<void> {
    await this.uploads.abort(uploadIdOf(id));
  }
}
