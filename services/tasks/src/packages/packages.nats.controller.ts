import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { TasksRpc } from '@fleetcast/contracts';
import { handleRpc } from '@fleetcast/service-kit';
import { PackagesService } from './packages.service';

@Controller()
export class PackagesNatsController {
  constructor(private readonly packages: PackagesService) {}

  @MessagePattern(TasksRpc.createPackage.subject)
  create(@Payload() payload: unknown) {
    return handleRpc(TasksRpc.createPackage, payload, (req) => this.packages.create(req));
  }

  @MessagePattern(TasksRpc.getPackage.subject)
  get(@Payload() payload: unknown) {
    return handleRpc(TasksRpc.getPackage, payload, (req) => this.packages.get(req.id));
  }

  @MessagePattern(TasksRpc.listPackages.subject)
  list(@Payload() payload: unknown) {
    return handleRpc(TasksRpc.listPackages, payload, (req) => this.packages.list(req.limit, req.offset));
  }

  @MessagePattern(TasksRpc.attachContent.subject)
  attachContent(@Payload() payload: unknown) {
    return handleRpc(TasksRpc.attachContent, payload, (req) => this.packages.attachContent(req));
  }

  @MessagePattern(TasksRpc.getManifest.subject)
  manifest(@Payload() payload: unknown) {
    return handleRpc(TasksRpc.getManifest, payload, (req) => this.packages.getManifest(req.contentId));
  }

  @MessagePattern(TasksRpc.getSigningKey.subject)
  signingKey(@Payload() payload: unknown) {
    return handleRpc(TasksRpc.getSigningKey, payload, () => this.packages.getSigningKey());
  }
}
