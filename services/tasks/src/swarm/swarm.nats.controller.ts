import { Controller } from '@nestjs/common';
import { Ctx, MessagePattern, NatsContext, Payload } from '@nestjs/microservices';
import { TasksDeviceRpc } from '@fleetcast/contracts';
import { handleDeviceRpc } from '@fleetcast/service-kit';
import { SwarmService } from './swarm.service';

@Controller()
export class SwarmNatsController {
  constructor(private readonly swarm: SwarmService) {}

  /** A device's holdings in, its office's view out: only for a target of the task. */
  @MessagePattern(TasksDeviceRpc.swarmAnnounce.subject)
  announce(@Payload() payload: unknown, @Ctx() ctx: NatsContext) {
    return handleDeviceRpc(TasksDeviceRpc.swarmAnnounce, ctx.getSubject(), payload, (req, deviceId) => this.swarm.announce(deviceId, req));
  }

  @MessagePattern(TasksDeviceRpc.getPeerPass.subject)
  peerPass(@Payload() payload: unknown, @Ctx() ctx: NatsContext) {
    return handleDeviceRpc(TasksDeviceRpc.getPeerPass, ctx.getSubject(), payload, (_req, deviceId) => this.swarm.peerPass(deviceId));
  }
}
