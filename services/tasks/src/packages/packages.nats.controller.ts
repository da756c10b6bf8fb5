import { Controller } from '@nestjs/common';
import { Ctx, MessagePattern, NatsContext, Payload } from '@nestjs/microservices';
import { TasksDeviceRpc, TasksRpc } from '@fleetcast/contracts';
import { handleDeviceRpc, handleRpc } from '@fleetcast/service-kit';
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

  @MessagePattern(TasksRpc.packageContentStatus.subject)
  contentStatus(@Payload() payload: unknown) {
    return handleRpc(TasksRpc.packageContentStatus, payload, (req) => this.packages.contentStatus(req.limit, req.offset));
  }

  @MessagePattern(TasksRpc.listPackages.subject)
  list(@Payload() payload: unknown) {
    return handleRpc(TasksRpc.listPackages, payload, (req) => this.packages.list(req));
  }

  @MessagePattern(TasksRpc.deletePackage.subject)
  delete(@Payload() payload: unknown) {
    return handleRpc(TasksRpc.deletePackage, payload, (req) => this.packages.delete(req.id));
  }

  @MessagePattern(TasksDeviceRpc.getContentDeletions.subject)
  contentDeletions(@Payload() payload: unknown, @Ctx() ctx: NatsContext) {
    return handleDeviceRpc(TasksDeviceRpc.getContentDeletions, ctx.getSubject(), payload, (_req, deviceId) => this.packages.contentDeletions(deviceId));
  }

  @MessagePattern(TasksRpc.attachContent.subject)
  attachContent(@Payload() payload: unknown) {
    return handleRpc(TasksRpc.attachContent, payload, (req) => this.packages.attachContent(req));
  }

  @MessagePattern(TasksRpc.getManifest.subject)
  manifest(@Payload() payload: unknown) {
    return handleRpc(TasksRpc.getManifest, payload, (req) => this.packages.getManifest(req.contentId, req.fromBlock));
  }

  @MessagePattern(TasksDeviceRpc.getManifest.subject)
  deviceManifest(@Payload() payload: unknown, @Ctx() ctx: NatsContext) {
    return handleDeviceRpc(TasksDeviceRpc.getManifest, ctx.getSubject(), payload, (req) => this.packages.getManifest(req.contentId, req.fromBlock));
  }

  @MessagePattern(TasksDeviceRpc.getDownloadToken.subject)
  downloadToken(@Payload() payload: unknown, @Ctx() ctx: NatsContext) {
    return handleDeviceRpc(TasksDeviceRpc.getDownloadToken, ctx.getSubject(), payload, (req, deviceId) => this.packages.downloadToken(deviceId, req.contentId));
  }

  @MessagePattern(TasksDeviceRpc.getContentKey.subject)
  contentKey(@Payload() payload: unknown, @Ctx() ctx: NatsContext) {
    return handleDeviceRpc(TasksDeviceRpc.getContentKey, ctx.getSubject(), payload, (req, deviceId) => this.packages.contentKey(deviceId, req.contentId));
  }

  @MessagePattern(TasksRpc.getSigningKey.subject)
  signingKey(@Payload() payload: unknown) {
    return handleRpc(TasksRpc.getSigningKey, payload, () => this.packages.getSigningKey());
  }

  @MessagePattern(TasksRpc.getSigningKeys.subject)
  signingKeys(@Payload() payload: unknown) {
    return handleRpc(TasksRpc.getSigningKeys, payload, () => this.packages.getSigningKeys());
  }

  @MessagePattern(TasksRpc.listSigningKeys.subject)
  listSigningKeys(@Payload() payload: unknown) {
    return handleRpc(TasksRpc.listSigningKeys, payload, () => this.packages.listSigningKeys());
  }

  @MessagePattern(TasksRpc.rotateSigningKey.subject)
  rotateSigningKey(@Payload() payload: unknown) {
    return handleRpc(TasksRpc.rotateSigningKey, payload, () => this.packages.rotateSigningKey());
  }

  @MessagePattern(TasksRpc.retireSigningKey.subject)
  retireSigningKey(@Payload() payload: unknown) {
    return handleRpc(TasksRpc.retireSigningKey, payload, (req) => this.packages.retireSigningKey(req.keyId));
  }
}
