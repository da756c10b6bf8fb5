import { Body, Controller, Get, Param, Post, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { z } from 'zod';
import { ActivationRpc, ANONYMOUS_ACTOR, idSchema } from '@fleetcast/contracts';
import { RpcClient } from '@fleetcast/nats';
import { requestContextOf } from '../common/request-context';
import { RequiresScope } from '../auth/requires-scope.decorator';
import { ApiContractBody, ApiContractResponse, ApiErrorResponses, ApiIdParam } from '../common/openapi.decorators';
import { ZodValidationPipe } from '../common/zod-validation.pipe';

const startBody = ActivationRpc.start.request.omit({ startedBy: true });

/** Activation: puts the configuration into force; its progress and result. */
@ApiTags('activation')
@ApiBearerAuth()
@Controller('v1/activation')
export class ActivationHttpController {
  constructor(private readonly rpc: RpcClient) {}

  @Post()
  @RequiresScope('admin')
  @ApiOperation({
    summary: 'Start an activation (or get the one running): license, topology (generated from the inventory when none was uploaded), content on the origin, devices marked active',
    description: 'Resumable and idempotent: an activation interrupted half-way is taken up where it was, and running it again duplicates nothing. `activation.completed` is published when it ends.',
  })
  @ApiContractBody(startBody)
  @ApiContractResponse(ActivationRpc.start.response, 201)
  @ApiErrorResponses(400, 401, 403, 409, 503)
  start(@Body(new ZodValidationPipe(startBody)) body: z.output<typeof startBody>, @Req() req: Request) {
    const credential = requestContextOf(req)?.credential;
    const startedBy = credential?.kind === 'token' ? credential.token.name : ANONYMOUS_ACTOR;
    return this.rpc.call(ActivationRpc.start, { ...body, startedBy });
  }

  @Get()
  @ApiOperation({ summary: 'The latest activation: each step with its progress, the result or the error' })
  @ApiContractResponse(ActivationRpc.get.response)
  @ApiErrorResponses(401, 404, 503)
  latest() {
    return this.rpc.call(ActivationRpc.get, {});
  }

  @Get(':id')
  @ApiOperation({ summary: 'One activation' })
  @ApiIdParam()
  @ApiContractResponse(ActivationRpc.get.response)
  @ApiErrorResponses(400, 401, 404, 503)
  get(@Param('id', new ZodValidationPipe(idSchema)) id: string) {
    return this.rpc.call(ActivationRpc.get, { id });
  }
}
