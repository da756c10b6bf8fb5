import { Body, Controller, Delete, Get, Head, Headers, HttpCode, Param, Patch, Post, Req, Res, UseFilters } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiHeader, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { z } from 'zod';
import { createUploadSchema, ErrorCode, FleetcastError, packageSchema, uploadSessionSchema } from '@fleetcast/contracts';
import { ApiContractBody, ApiContractResponse, ApiErrorResponses } from '../common/openapi.decorators';
import { ZodValidationPipe } from '../common/zod-validation.pipe';
import { OriginErrorFilter } from './origin-error.filter';
import { UploadSessionsService } from './upload-sessions.service';

/** Upload IDs are the origin's random UUIDs; anything else names no upload (404, not 400: the client cannot tell the shape). */
const uploadIdSchema = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

function checkedId(raw: string): string {
  if (!uploadIdSchema.safeParse(raw).success) throw new FleetcastError(ErrorCode.UploadNotFound, `no upload ${raw.slice(0, 80)}`);
  return raw;
}

function progressHeaders(res: Response, session: { offset: number; size: number; expiresAt: string }): void {
  res.setHeader('Upload-Offset', String(session.offset));
  res.setHeader('Upload-Length', String(session.size));
  res.setHeader('Upload-Expires', new Date(session.expiresAt).toUTCString());
  res.setHeader('Cache-Control', 'no-store');
}

@ApiTags('packages')
@ApiBearerAuth()
@Controller('v1/uploads')
@UseFilters(OriginErrorFilter)
export class UploadsHttpController {
  constructor(private readonly uploads: UploadSessionsService) {}

  @Post()
  @ApiOperation({
    summary: "Start a resumable upload of a package's content",
    description:
      'Creates an upload for a package awaiting content. Send the bytes with `PATCH /v1/uploads/{id}` and an `Upload-Offset` header; ' +
      'after a break, `HEAD /v1/uploads/{id}` answers the offset to resume from. The upload lives on the origin\'s disk (it survives restarts) ' +
      'and is removed when left alone longer than the origin\'s UPLOAD_TTL_SECONDS.',
  })
  @ApiContractBody(createUploadSchema)
  @ApiContractResponse(uploadSessionSchema, 201, 'Created: send the bytes from offset 0')
  @ApiErrorResponses(400, 401, 404, 409, 413, 503)
  async create(
    @Body(new ZodValidationPipe(createUploadSchema)) body: z.output<typeof createUploadSchema>,
    @Headers('authorization') caller: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ) {
    const session = await this.uploads.create(body, caller);
    res.setHeader('Location', `/v1/uploads/${session.id}`);
    progressHeaders(res, session);
    return session;
  }

  @Head(':id')
  @ApiOperation({ summary: 'Where an upload stands: `Upload-Offset` and `Upload-Length` headers, no body' })
  @ApiParam({ name: 'id', description: 'The upload ID' })
  @ApiErrorResponses(401, 404, 503)
  async head(@Param('id') id: string, @Headers('authorization') caller: string | undefined, @Res() res: Response): Promise<void> {
    const session = await this.uploads.status(checkedId(id), caller);
    progressHeaders(res, session);
    res.status(200).end();
  }

  @Get(':id')
  @ApiOperation({ summary: 'An upload with its offset' })
  @ApiParam({ name: 'id', description: 'The upload ID' })
  @ApiContractResponse(uploadSessionSchema)
  @ApiErrorResponses(401, 404, 503)
  async get(@Param('id') id: string, @Headers('authorization') caller: string | undefined, @Res({ passthrough: true }) res: Response) {
    const session = await this.uploads.status(checkedId(id), caller);
    progressHeaders(res, session);
    return session;
  }

  @Patch(':id')
  @ApiOperation({
    summary: 'Send bytes of an upload from its current offset',
    description:
      'The body is the bytes (not multipart), from `Upload-Offset` on: all that remains, or a part of it. 204 with the new `Upload-Offset` while bytes are missing; ' +
      'with the last byte the content is checked and stored and the package answered (200, now `ready`). A chunk broken off keeps what arrived. ' +
      'An offset that is not the upload\'s answers 409 ORIGIN.UPLOAD_OFFSET_MISMATCH with the right one in `Upload-Offset`; a chunk while another is being received, 409 ORIGIN.UPLOAD_BUSY. ' +
      'A declared SHA-256 that does not match the whole answers 422 and keeps nothing.',
  })
  @ApiParam({ name: 'id', description: 'The upload ID' })
  @ApiHeader({ name: 'Upload-Offset', required: true, description: 'Where this chunk starts: the offset HEAD answers' })
  @ApiConsumes('application/offset+octet-stream', 'application/octet-stream')
  @ApiBody({ schema: { type: 'string', format: 'binary' } })
  @ApiContractResponse(packageSchema, 200, 'The last byte is in: the package is ready')
  @ApiErrorResponses(400, 401, 404, 409, 413, 422, 503)
  async append(@Param('id') id: string, @Req() req: Request, @Res({ passthrough: true }) res: Response) {
    const outcome = await this.uploads.append(checkedId(id), req, res);
    res.setHeader('Upload-Offset', String(outcome.offset));
    if (!outcome.complete) {
      res.status(204);
      return undefined;
    }
    res.status(200);
    return outcome.package;
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Abandon an upload and what it received' })
  @ApiParam({ name: 'id', description: 'The upload ID' })
  @ApiErrorResponses(401, 404, 409, 503)
  async abort(@Param('id') id: string, @Headers('authorization') caller: string | undefined): Promise<void> {
    await this.uploads.abort(checkedId(id), caller);
  }
}
