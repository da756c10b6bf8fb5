import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { InventoryRpc } from '@fleetcast/contracts';
import { handleRpc } from '@fleetcast/service-kit';
import { DevicesService } from './devices.service';

/** Inventory queries over NATS request/reply: validate against the contract, then call the service. */
@Controller()
export class DevicesNatsController {
  constructor(private readonly devices: DevicesService) {}

  @MessagePattern(InventoryRpc.getDevice.subject)
  getDevice(@Payload() payload: unknown) {
    return handleRpc(InventoryRpc.getDevice, payload, (request) => this.devices.getDevice(request.id));
  }

  @MessagePattern(InventoryRpc.listDevices.subject)
  listDevices(@Payload() payload: unknown) {
    return handleRpc(InventoryRpc.listDevices, payload, (request) => this.devices.listDevices(request));
  }

  @MessagePattern(InventoryRpc.listSubnets.subject)
  listSubnets(@Payload() payload: unknown) {
    return handleRpc(InventoryRpc.listSubnets, payload, (req) => this.devices.listSubnets(req));
  }

  @MessagePattern(InventoryRpc.deviceAddresses.subject)
  deviceAddresses(@Payload() payload: unknown) {
    return handleRpc(InventoryRpc.deviceAddresses, payload, (request) => this.devices.deviceAddresses(request.deviceIds, request.subnet));
  }

  @MessagePattern(InventoryRpc.resolveTargetsPage.subject)
  resolveTargetsPage(@Payload() payload: unknown) {
    return handleRpc(InventoryRpc.resolveTargetsPage, payload, (request) => this.devices.resolveTargetsPage(request));
  }

  @MessagePattern(InventoryRpc.resolveTargets.subject)
  resolveTargets(@Payload() payload: unknown) {
    return handleRpc(InventoryRpc.resolveTargets, payload, (request) => this.devices.resolveTargets(request));
  }
}
