import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { deviceSchema, idSchema, InventoryRpc } from '@fleetcast/contracts';
import { RpcClient } from '@fleetcast/nats';
import { ApiContractQuery, ApiContractResponse, ApiErrorResponses, ApiIdParam } from '../common/openapi.decorators';
import { ZodValidationPipe } from '../common/zod-validation.pipe';

const listDevicesQuery = InventoryRpc.listDevices.request;
const listSubnetsQuery = InventoryRpc.listSubnets.request;

/** The inventory: devices as their agents last reported them, and the subnets derived from them. */
@ApiTags('devices')
@ApiBearerAuth()
@Controller('v1')
export class DevicesHttpController {
  constructor(private readonly rpc: RpcClient) {}

  @Get('devices')
  @ApiOperation({ summary: 'List devices, filtered by platform, subnet or staleness' })
  @ApiContractQuery(listDevicesQuery)
  @ApiContractResponse(InventoryRpc.listDevices.response)
  @ApiErrorResponses(400, 401, 503)
  list(@Query(new ZodValidationPipe(listDevicesQuery)) query: z.output<typeof listDevicesQuery>) {
    return this.rpc.call(InventoryRpc.listDevices, query);
  }

  @Get('devices/:id')
  @ApiOperation({ summary: 'Get a device' })
  @ApiIdParam()
  @ApiContractResponse(deviceSchema)
  @ApiErrorResponses(400, 401, 404, 503)
  get(@Param('id', new ZodValidationPipe(idSchema)) id: string) {
    return this.rpc.call(InventoryRpc.getDevice, { id });
  }

  @Get('subnets')
  @ApiOperation({ summary: 'List subnets with their device counts, IPv4 first in address order, a page at a time (limit 100, offset 0 by default; total counts all)' })
  @ApiContractQuery(listSubnetsQuery)
  @ApiContractResponse(InventoryRpc.listSubnets.response)
  @ApiErrorResponses(400, 401, 503)
  subnets(@Query(new ZodValidationPipe(listSubnetsQuery)) query: z.output<typeof listSubnetsQuery>) {
    return this.rpc.call(InventoryRpc.listSubnets, query);
  }
}
