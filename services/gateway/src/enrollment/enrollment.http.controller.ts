import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { EnrollmentRpc, idSchema } from '@fleetcast/contracts';
import { RpcClient } from '@fleetcast/nats';
import { RequiresScope } from '../auth/requires-scope.decorator';
import { ApiContractBody, ApiContractQuery, ApiContractResponse, ApiErrorResponses, ApiIdParam } from '../common/openapi.decorators';
import { ZodValidationPipe } from '../common/zod-validation.pipe';

const createTokenBody = EnrollmentRpc.createToken.request;
const listTokensQuery = EnrollmentRpc.listTokens.request;
const listDevicesQuery = EnrollmentRpc.listDevices.request;
const enrollBody = EnrollmentRpc.enroll.request;

/** Enrollment tokens and enrolled devices: what an administrator manages. */
@ApiTags('enrollment')
@ApiBearerAuth()
@Controller('v1')
export class EnrollmentHttpController {
  constructor(private readonly rpc: RpcClient) {}

  @Post('enrollment-tokens')
  @ApiOperation({ summary: 'Create an enrollment token (its secret is shown in this answer only)' })
  @ApiContractBody(createTokenBody)
  @ApiContractResponse(EnrollmentRpc.createToken.response, 201)
  @ApiErrorResponses(400, 401, 503)
  createToken(@Body(new ZodValidationPipe(createTokenBody)) body: z.output<typeof createTokenBody>) {
    return this.rpc.call(EnrollmentRpc.createToken, body);
  }

  @Get('enrollment-tokens')
  @ApiOperation({ summary: 'List enrollment tokens (never their secrets)' })
  @ApiContractQuery(listTokensQuery)
  @ApiContractResponse(EnrollmentRpc.listTokens.response)
  @ApiErrorResponses(400, 401, 503)
  listTokens(@Query(new ZodValidationPipe(listTokensQuery)) query: z.output<typeof listTokensQuery>) {
    return this.rpc.call(EnrollmentRpc.listTokens, query);
  }

  @Post('enrollment-tokens/:id/revoke')
  @HttpCode(200)
  @ApiOperation({ summary: 'Revoke an enrollment token: no device can enroll with it any more' })
  @ApiIdParam()
  @ApiContractResponse(EnrollmentRpc.revokeToken.response)
  @ApiErrorResponses(400, 401, 404, 503)
  revokeToken(@Param('id', new ZodValidationPipe(idSchema)) id: string) {
    return this.rpc.call(EnrollmentRpc.revokeToken, { id });
  }

  @Get('enrolled-devices')
  @ApiOperation({ summary: 'List enrolled devices (active or retired)' })
  @ApiContractQuery(listDevicesQuery)
  @ApiContractResponse(EnrollmentRpc.listDevices.response)
  @ApiErrorResponses(400, 401, 503)
  listDevices(@Query(new ZodValidationPipe(listDevicesQuery)) query: z.output<typeof listDevicesQuery>) {
    return this.rpc.call(EnrollmentRpc.listDevices, query);
  }

  @Get('enrolled-devices/:id')
  @ApiOperation({ summary: "Get a device's enrollment" })
  @ApiIdParam()
  @ApiContractResponse(EnrollmentRpc.getDevice.response)
  @ApiErrorResponses(400, 401, 404, 503)
  getDevice(@Param('id', new ZodValidationPipe(idSchema)) deviceId: string) {
    return this.rpc.call(EnrollmentRpc.getDevice, { deviceId });
  }

  @Post('devices/:id/retire')
  @HttpCode(200)
  // Cannot be undone (the device must enroll again, with a new key): beyond the day-to-day operator.
  @RequiresScope('admin')
  @ApiOperation({ summary: "Retire a device: its NATS credentials are revoked (its connection closed within seconds) and its seat released" })
  @ApiIdParam()
  @ApiContractResponse(EnrollmentRpc.retire.response)
  @ApiErrorResponses(400, 401, 404, 503)
  retire(@Param('id', new ZodValidationPipe(idSchema)) deviceId: string) {
    return this.rpc.call(EnrollmentRpc.retire, { deviceId });
  }
}

/**
 * Where an agent enrolls. It carries no API token: the enrollment token in the body is the
 * credential, checked by the licensing service (an unknown, expired, used-up or revoked one is a 401).
 */
@ApiTags('enrollment')
@Controller('v1')
export class EnrollHttpController {
  constructor(private readonly rpc: RpcClient) {}

  @Post('enroll')
  @ApiOperation({ summary: 'Enroll a device with an enrollment token and the public half of its NATS user key' })
  @ApiContractBody(enrollBody)
  @ApiContractResponse(EnrollmentRpc.enroll.response, 201)
  @ApiErrorResponses(400, 401, 409, 503)
  enroll(@Body(new ZodValidationPipe(enrollBody)) body: z.output<typeof enrollBody>) {
    return this.rpc.call(EnrollmentRpc.enroll, body);
  }
}
