import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Post, Put, Query, Req, Res, UseFilters } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { z } from 'zod';
import { ErrorCode, FleetcastError, idSchema, packageSchema, signedManifestSchema, TasksRpc } from '@fleetcast/contracts';
import { RpcClient } from '@fleetcast/nats';
import { ApiContractBody, ApiContractQuery, ApiContractResponse, ApiErrorResponses, ApiIdParam } from '../common/openapi.decorators';
import { ZodValidationPipe } from '../common/zod-validation.pipe';
import { ContentUploadService } from './content-upload.service';
import { OriginErrorFilter } from './origin-error.filter';

const createPackageBody = TasksRpc.createPackage.request;
/** Which page of a large manifest to read: the block it starts at (default 0). */
const manifestPageQuery = z.object({ fromBlock: z.coerce.number().int().nonnegative().default(0) });
const listPackagesQuery = TasksRpc.listPackages.request;

/** What a deletion answers: the package, when, and whether its content left the origin. */
export const packageDeletionSchema = z.object({
  id: idSchema,
  deletedAt: z.string(),
  /** The content the package had, now removed from the origin; null when none was removed (none uploaded, or another package has it). */
  removedContentId: z.string().nullable(),
});

@ApiTags('packages')
@ApiBearerAuth()
@Controller('v1/packages')
export class PackagesHttpController {
  constructor(
    private readonly rpc: RpcClient,
    private readonly uploads: ContentUploadService,
  ) {}

  @Post()
  @ApiOperation({
    summary: 'Create a package (its content is uploaded next)',
    description:
      'With `confidential: true` the content is encrypted per block (AES-256-GCM, a key of its own) when its upload completes, before it ' +
      'leaves the origin: the package\'s `contentId` and `size` are then the ciphertext\'s, the plaintext is removed from the origin, and ' +
      'only devices targeted by an install task with the package get the key (see docs/security.md, confidential packages).',
  })
  @ApiContractBody(createPackageBody)
  @ApiContractResponse(packageSchema, 201, 'Created, awaiting content')
  @ApiErrorResponses(400, 401, 503)
  create(@Body(new ZodValidationPipe(createPackageBody)) body: z.output<typeof createPackageBody>) {
    return this.rpc.call(TasksRpc.createPackage, body);
  }

  @Get()
  @ApiOperation({
    summary: 'List packages',
    description: 'Newest first. Filters: `name` (a case-insensitive substring), `status`, `createdAfter` and `createdBefore` (ISO 8601, [after, before)); `limit` and `offset` page through, `total` counts the matches.',
  })
  @ApiContractQuery(listPackagesQuery)
  @ApiContractResponse(TasksRpc.listPackages.response)
  @ApiErrorResponses(400, 401, 503)
  list(@Query(new ZodValidationPipe(listPackagesQuery)) query: z.output<typeof listPackagesQuery>) {
    return this.rpc.call(TasksRpc.listPackages, query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a package' })
  @ApiIdParam()
  @ApiContractResponse(packageSchema)
  @ApiErrorResponses(400, 401, 404, 503)
  get(@Param('id', new ZodValidationPipe(idSchema)) id: string) {
    return this.rpc.call(TasksRpc.getPackage, { id });
  }

  @Delete(':id')
  @UseFilters(OriginErrorFilter)
  @ApiOperation({
    summary: 'Delete a package',
    description:
      'Refused with 409 TASKS.PACKAGE_IN_USE while a scheduled or active task uses the package. Otherwise the package is deleted ' +
      '(no longer listed, read, or usable by a task), its content is removed from the origin unless another package has the same bytes, ' +
      'and devices drop the content from their caches at their next inventory scan (a deletion notice signed by the control plane). ' +
      'Deleting a deleted package again answers the same (and finishes removing the content if the origin was unreachable the first time).',
  })
  @ApiIdParam()
  @ApiContractResponse(packageDeletionSchema, 200, 'Deleted')
  @ApiErrorResponses(400, 401, 403, 404, 409, 503)
  async delete(@Param('id', new ZodValidationPipe(idSchema)) id: string, @Headers('authorization') caller: string | undefined) {
    return this.uploads.deletePackage(id, caller);
  }

  @Put(':id/content')
  @HttpCode(200)
  @UseFilters(OriginErrorFilter)
  @ApiOperation({
    summary: "Upload a package's content",
    description:
      'Streams the raw body to the content origin, which hashes it on the way in and builds the block manifest; ' +
      'the package then becomes `ready`. Send the bytes as they are (not multipart). ' +
      'A declared `x-content-sha256` that does not match the body rejects the upload with 422 and stores nothing.',
  })
  @ApiIdParam()
  @ApiConsumes('application/octet-stream')
  @ApiBody({ schema: { type: 'string', format: 'binary' } })
  @ApiHeader({ name: 'x-content-sha256', required: false, description: 'SHA-256 of the body, 64 hex characters; checked by the origin' })
  @ApiContractResponse(packageSchema, 200, 'Stored; the package is ready')
  @ApiErrorResponses(400, 401, 404, 409, 413, 422, 503)
  upload(
    @Param('id', new ZodValidationPipe(idSchema)) id: string,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ) {
    return this.uploads.upload(id, req, res);
  }

  @Get(':id/manifest')
  @ApiOperation({ summary: "Get a package's signed block manifest (packages over 20 GiB: a page at a time, from `fromBlock` to `nextBlock`)" })
  @ApiIdParam()
  @ApiContractQuery(manifestPageQuery)
  @ApiContractResponse(signedManifestSchema)
  @ApiErrorResponses(400, 401, 404, 409, 503)
  async manifest(@Param('id', new ZodValidationPipe(idSchema)) id: string, @Query(new ZodValidationPipe(manifestPageQuery)) query: z.output<typeof manifestPageQuery>) {
    const pkg = await this.rpc.call(TasksRpc.getPackage, { id });
    if (pkg.contentId === null) {
      throw new FleetcastError(ErrorCode.PackageNotReady, `package ${id} has no content yet: upload it with PUT /v1/packages/${id}/content`);
    }
    return this.rpc.call(TasksRpc.getManifest, { contentId: pkg.contentId, fromBlock: query.fromBlock });
  }
}
