import { Controller } from '@nestjs/common';
import { Ctx, MessagePattern, NatsContext, Payload } from '@nestjs/microservices';
import { TasksDeviceRpc, TasksRpc } from '@fleetcast/contracts';
import { handleDeviceRpc, handleRpc } from '@fleetcast/service-kit';
import { ProfilesService } from './profiles.service';

@Controller()
export class ProfilesNatsController {
  constructor(private readonly profiles: ProfilesService) {}

  @MessagePattern(TasksRpc.createProfile.subject)
  create(@Payload() payload: unknown) {
    return handleRpc(TasksRpc.createProfile, payload, (req) => this.profiles.create(req));
  }

  @MessagePattern(TasksRpc.updateProfile.subject)
  update(@Payload() payload: unknown) {
    return handleRpc(TasksRpc.updateProfile, payload, (req) => this.profiles.update(req.id, req.patch));
  }

  @MessagePattern(TasksRpc.getProfile.subject)
  get(@Payload() payload: unknown) {
    return handleRpc(TasksRpc.getProfile, payload, (req) => this.profiles.get(req.id));
  }

  @MessagePattern(TasksRpc.listProfiles.subject)
  list(@Payload() payload: unknown) {
    return handleRpc(TasksRpc.listProfiles, payload, (req) => this.profiles.list(req.limit, req.offset));
  }

  /** Every device uses the default profile outside tasks that carry their own. */
  @MessagePattern(TasksDeviceRpc.getSettings.subject)
  ownSettings(@Payload() payload: unknown, @Ctx() ctx: NatsContext) {
    return handleDeviceRpc(TasksDeviceRpc.getSettings, ctx.getSubject(), payload, () => this.profiles.resolve(null));
  }

  @MessagePattern(TasksRpc.getDeviceSettings.subject)
  deviceSettings(@Payload() payload: unknown) {
    return handleRpc(TasksRpc.getDeviceSettings, payload, () => this.profiles.resolve(null));
  }
}
