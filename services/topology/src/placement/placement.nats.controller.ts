import { Controller } from '@nestjs/common';
import { Ctx, MessagePattern, NatsContext, Payload } from '@nestjs/microservices';
import { TopologyDeviceRpc, TopologyRpc } from '@fleetcast/contracts';
import { handleDeviceRpc, handleRpc } from '@fleetcast/service-kit';
import { PlacementService } from './placement.service';

/** Questions about devices over NATS request/reply: validate against the contract, then call the service. */
@Controller()
export class PlacementNatsController {
  constructor(private readonly placement: PlacementService) {}

  @MessagePattern(TopologyRpc.listUnplaced.subject)
  listUnplaced(@Payload() payload: unknown) {
    return handleRpc(TopologyRpc.listUnplaced, payload, (req) => this.placement.listUnplaced(req.limit, req.offset));
  }

  @MessagePattern(TopologyRpc.listOffices.subject)
  listOffices(@Payload() payload: unknown) {
    return handleRpc(TopologyRpc.listOffices, payload, (req) => this.placement.listOffices(req.limit, req.offset));
  }

  @MessagePattern(TopologyRpc.deviceOffice.subject)
  deviceOffice(@Payload() payload: unknown) {
    return handleRpc(TopologyRpc.deviceOffice, payload, (req) => this.placement.deviceOffice(req.deviceId));
  }

  @MessagePattern(TopologyRpc.devicePeers.subject)
  devicePeers(@Payload() payload: unknown) {
    return handleRpc(TopologyRpc.devicePeers, payload, (req) => this.placement.devicePeers(req.deviceId, req.limit));
  }

  @MessagePattern(TopologyRpc.wanPath.subject)
  wanPath(@Payload() payload: unknown) {
    return handleRpc(TopologyRpc.wanPath, payload, (req) => this.placement.wanPath(req.deviceId));
  }

  /** An agent asks for its own office's policy: the device is the subject's last token, never the payload's. */
  @MessagePattern(TopologyDeviceRpc.getPolicy.subject)
  policy(@Payload() payload: unknown, @Ctx() ctx: NatsContext) {
    return handleDeviceRpc(TopologyDeviceRpc.getPolicy, ctx.getSubject(), payload, (_req, deviceId) => this.placement.policy(deviceId));
  }
}
