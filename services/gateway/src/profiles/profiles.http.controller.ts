import { Body, Controller, Get, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { idSchema, profileSchema, TasksRpc } from '@fleetcast/contracts';
import { RpcClient } from '@fleetcast/nats';
import { ApiContractBody, ApiContractQuery, ApiContractResponse, ApiErrorResponses, ApiIdParam } from '../common/openapi.decorators';
import { ZodValidationPipe } from '../common/zod-validation.pipe';

const createProfileBody = TasksRpc.createProfile.request;
const updateProfileBody = TasksRpc.updateProfile.request.shape.patch;
const listProfilesQuery = TasksRpc.listProfiles.request;

/** Agent settings profiles ("distribution and patch" settings). */
@ApiTags('profiles')
@ApiBearerAuth()
@Controller('v1/profiles')
export class ProfilesHttpController {
  constructor(private readonly rpc: RpcClient) {}

  @Post()
  @ApiOperation({ summary: 'Create a settings profile; unset settings take the built-in defaults' })
  @ApiContractBody(createProfileBody)
  @ApiContractResponse(profileSchema, 201, 'Created')
  @ApiErrorResponses(400, 401, 503)
  create(@Body(new ZodValidationPipe(createProfileBody)) body: z.output<typeof createProfileBody>) {
    return this.rpc.call(TasksRpc.createProfile, body);
  }

  @Get()
  @ApiOperation({ summary: 'List settings profiles' })
  @ApiContractQuery(listProfilesQuery)
  @ApiContractResponse(TasksRpc.listProfiles.response)
  @ApiErrorResponses(400, 401, 503)
  list(@Query(new ZodValidationPipe(listProfilesQuery)) query: z.output<typeof listProfilesQuery>) {
    return this.rpc.call(TasksRpc.listProfiles, query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a settings profile' })
  @ApiIdParam()
  @ApiContractResponse(profileSchema)
  @ApiErrorResponses(400, 401, 404, 503)
  get(@Param('id', new ZodValidationPipe(idSchema)) id: string) {
    return this.rpc.call(TasksRpc.getProfile, { id });
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change some settings of a profile; connected agents are told at once' })
  @ApiIdParam()
  @ApiContractBody(updateProfileBody)
  @ApiContractResponse(profileSchema)
  @ApiErrorResponses(400, 401, 404, 503)
  update(
    @Param('id', new ZodValidationPipe(idSchema)) id: string,
    @Body(new ZodValidationPipe(updateProfileBody)) patch: z.output<typeof updateProfileBody>,
  ) {
    return this.rpc.call(TasksRpc.updateProfile, { id, patch });
  }
}
