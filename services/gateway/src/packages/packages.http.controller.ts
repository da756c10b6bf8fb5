import { Body, Controller, Get, HttpCode, Param, Post, Put, Query, Req, Res, UseFilters } from '@nestjs/common';
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

@ApiTags('packages')
@ApiBearerAuth()
@Controller('v1/packages')
export class PackagesHttpController {
  constructor(
    private readonly rpc: RpcClient,
    private readonly uploads: ContentUploadService,
  ) {}

  @Post()
  @ApiOperation({ summary: 'Create a package (its content is uploaded next)' })
  @ApiContractBody(createPackageBody)
  @ApiContractResponse(packageSchema, 201, 'Created, awaiting content')
  @ApiErrorResponses(400, 401, 503)
  create(@Body(new ZodValidationPipe(createPackageBody)) body: z.output<typeof createPackageBody>) {
    return this.rpc.call(TasksRpc.createPackage, body);
  }

  @Get()
  @ApiOperation({ summary: 'List packages' })
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
