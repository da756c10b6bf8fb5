import { Body, Controller, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { z } from 'zod';
import {
  ANONYMOUS_ACTOR,
  errorBodySchema,
  idSchema,
  paginationSchema,
  storedTopologySchema,
  topologyDocumentSchema,
  TopologyRpc,
  topologyValidationSchema,
  topologyVersionSchema,
} from '@fleetcast/contracts';
import { RpcClient } from '@fleetcast/nats';
import { RequiresScope } from '../auth/requires-scope.decorator';
import { schemaOrRef } from '../common/api-schemas';
import { ApiContractBody, ApiContractQuery, ApiContractResponse, ApiErrorResponses, ApiIdParam } from '../common/openapi.decorators';
import { requestContextOf } from '../common/request-context';
import { ZodValidationPipe } from '../common/zod-validation.pipe';
import { TOPOLOGY_JSON_TYPES, TOPOLOGY_YAML_TYPES } from './topology-body';

/** What an upload takes besides the document, in the query string (a YAML body is the document alone). */
const uploadQuery = z.object({
  comment: z.string().max(1000).optional(),
  /** The version the change was made against: refused with 409 TOPOLOGY.VERSION_CONFLICT when another was stored since (0: none yet). */
  baseVersion: z.number().int().nonnegative().optional(),
});
const getQuery = TopologyRpc.get.request;
const draftBody = TopologyRpc.generateDraft.request;

const INVALID_DESCRIPTION =
  'TOPOLOGY.INVALID: the document has problems; `details` lists every one with its JSON pointer (`path`), its `code` ' +
  '(overlapping-subnets, subnet-in-two-offices, cycle, unknown-parent, origin-outside-central-office, ...) and a message. Nothing was stored.';

/**
 * The network topology (offices, subnets, WAN links) and where devices stand in it, from the
 * topology service. Uploads are JSON or YAML by Content-Type; every change is a new version that
 * records the API token's name as its author.
 */
@ApiTags('topology')
@ApiBearerAuth()
@Controller('v1/topology')
export class TopologyHttpController {
  constructor(private readonly rpc: RpcClient) {}

  @Post()
  // The topology decides which devices share content and how links are used: an administrator's change.
  @RequiresScope('admin')
  @ApiOperation({
    summary: 'Upload a topology (JSON or YAML): validated, then stored as the next version and made current',
    description:
      'Send the document as `application/json` or `application/yaml` (also `application/x-yaml`, `text/yaml`). ' +
      'Devices are placed again at once; `topology.changed` is published and agents read their office policy again.',
  })
  @ApiConsumes(...TOPOLOGY_JSON_TYPES, ...TOPOLOGY_YAML_TYPES)
  @ApiBody({ schema: schemaOrRef(topologyDocumentSchema, 'input') })
  @ApiContractQuery(uploadQuery)
  @ApiContractResponse(topologyVersionSchema, 201, 'Stored as the current version')
  @ApiErrorResponses(400, 401, 403, 409, 413, 503)
  @ApiResponse({ status: 422, description: INVALID_DESCRIPTION, schema: schemaOrRef(errorBodySchema, 'output') })
  upload(@Body() document: unknown, @Query(new ZodValidationPipe(uploadQuery)) query: z.output<typeof uploadQuery>, @Req() req: Request) {
    const credential = requestContextOf(req)?.credential;
    const author = credential?.kind === 'token' ? credential.token.name : ANONYMOUS_ACTOR;
    return this.rpc.call(TopologyRpc.upload, { document, author, ...query });
  }

  @Post('validate')
  @HttpCode(200)
  // Changes nothing: a check an operator may run before asking an administrator to upload.
  @RequiresScope('read-only')
  @ApiOperation({ summary: 'Validate a topology document (JSON) without storing it: every problem with its JSON pointer' })
  @ApiBody({ schema: schemaOrRef(topologyDocumentSchema, 'input') })
  @ApiContractResponse(topologyValidationSchema)
  @ApiErrorResponses(400, 401, 503)
  validate(@Body() document: unknown) {
    return this.rpc.call(TopologyRpc.validate, { document: document ?? null });
  }

  @Get()
  @ApiOperation({ summary: 'The current topology (or the version asked for) with its version record' })
  @ApiContractQuery(getQuery)
  @ApiContractResponse(storedTopologySchema)
  @ApiErrorResponses(400, 401, 404, 503)
  get(@Query(new ZodValidationPipe(getQuery)) query: z.output<typeof getQuery>) {
    return this.rpc.call(TopologyRpc.get, query);
  }

  @Get('versions')
  @ApiOperation({ summary: 'Topology versions, newest first: who changed what, when' })
  @ApiContractQuery(paginationSchema)
  @ApiContractResponse(TopologyRpc.listVersions.response)
  @ApiErrorResponses(400, 401, 503)
  versions(@Query(new ZodValidationPipe(paginationSchema)) query: z.output<typeof paginationSchema>) {
    return this.rpc.call(TopologyRpc.listVersions, query);
  }

  @Post('draft')
  @HttpCode(200)
  @RequiresScope('admin')
  @ApiOperation({
    summary: 'Generate a draft topology from the inventory, for review (not stored, not made current)',
    description:
      'One office per subnet, grouped where devices share a gateway (or an interface); the office holding the origin is the central office, ' +
      'every other one its branch with a placeholder bandwidth. `notes` say what to review; `problems` is the validation of the draft as it stands.',
  })
  @ApiContractBody(draftBody)
  @ApiContractResponse(TopologyRpc.generateDraft.response)
  @ApiErrorResponses(400, 401, 403, 503)
  draft(@Body(new ZodValidationPipe(draftBody)) body: z.output<typeof draftBody>) {
    return this.rpc.call(TopologyRpc.generateDraft, body);
  }

  @Get('offices')
  @ApiOperation({ summary: "The current topology's offices in document order with their device counts, a page at a time (limit 100, offset 0 by default; total counts all)" })
  @ApiContractQuery(paginationSchema)
  @ApiContractResponse(TopologyRpc.listOffices.response)
  @ApiErrorResponses(400, 401, 404, 503)
  offices(@Query(new ZodValidationPipe(paginationSchema)) query: z.output<typeof paginationSchema>) {
    return this.rpc.call(TopologyRpc.listOffices, query);
  }

  @Get('unplaced-devices')
  @ApiOperation({ summary: "Devices in no office's subnets, put in the default office, by device ID" })
  @ApiQuery({ name: 'limit', required: false, schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } })
  @ApiQuery({ name: 'offset', required: false, schema: { type: 'integer', minimum: 0, default: 0 } })
  @ApiContractResponse(TopologyRpc.listUnplaced.response)
  @ApiErrorResponses(400, 401, 404, 503)
  unplaced(@Query(new ZodValidationPipe(paginationSchema)) query: z.output<typeof paginationSchema>) {
    return this.rpc.call(TopologyRpc.listUnplaced, query);
  }

  @Get('devices/:id')
  @ApiOperation({ summary: "A device's office, how it was placed, and the office's parents up to the central office" })
  @ApiIdParam()
  @ApiContractResponse(TopologyRpc.deviceOffice.response)
  @ApiErrorResponses(400, 401, 404, 503)
  device(@Param('id', new ZodValidationPipe(idSchema)) id: string) {
    return this.rpc.call(TopologyRpc.deviceOffice, { deviceId: id });
  }
}
