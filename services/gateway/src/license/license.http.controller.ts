import { Body, Controller, Get, Put, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { errorBodySchema, licenseStatusSchema, LicensingRpc } from '@fleetcast/contracts';
import { RpcClient } from '@fleetcast/nats';
import { RequiresScope } from '../auth/requires-scope.decorator';
import { schemaOrRef } from '../common/api-schemas';
import { ApiContractBody, ApiContractQuery, ApiContractResponse, ApiErrorResponses } from '../common/openapi.decorators';
import { ZodValidationPipe } from '../common/zod-validation.pipe';

const installBody = LicensingRpc.installLicense.request;
const listSeatsQuery = LicensingRpc.listSeats.request;

/** The product license and its seats (one per enrolled device), from the licensing service. */
@ApiTags('license')
@ApiBearerAuth()
@Controller('v1')
export class LicenseHttpController {
  constructor(private readonly rpc: RpcClient) {}

  @Get('license')
  @ApiOperation({ summary: 'The installed license: seats bought, used and over, its state, the overage policy and grace period' })
  @ApiContractResponse(licenseStatusSchema)
  @ApiErrorResponses(401, 503)
  get() {
    return this.rpc.call(LicensingRpc.getLicense, {});
  }

  @Put('license')
  // What seats the fleet has: not a day-to-day change.
  @RequiresScope('admin')
  @ApiOperation({ summary: 'Install a license key; it replaces the active license (every license installed stays in the history)' })
  @ApiContractBody(installBody)
  @ApiContractResponse(licenseStatusSchema)
  @ApiErrorResponses(400, 401, 403, 503)
  @ApiResponse({
    status: 422,
    description:
      'The key is refused: LICENSING.LICENSE_INVALID (malformed, altered, or signed by another issuer than the configured public key trusts) or LICENSING.LICENSE_EXPIRED.',
    schema: schemaOrRef(errorBodySchema, 'output'),
  })
  install(@Body(new ZodValidationPipe(installBody)) body: z.output<typeof installBody>) {
    return this.rpc.call(LicensingRpc.installLicense, body);
  }

  @Get('seats')
  @ApiOperation({ summary: 'Seats in device ID order: those held, or with includeReleased also those given back (retired or stale devices)' })
  @ApiContractQuery(listSeatsQuery)
  @ApiContractResponse(LicensingRpc.listSeats.response)
  @ApiErrorResponses(400, 401, 503)
  seats(@Query(new ZodValidationPipe(listSeatsQuery)) query: z.output<typeof listSeatsQuery>) {
    return this.rpc.call(LicensingRpc.listSeats, query);
  }
}
