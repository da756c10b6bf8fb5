import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { ActivationRpc } from '@fleetcast/contracts';
import { handleRpc } from '@fleetcast/service-kit';
import { ActivationService } from './activation.service';

@Controller()
export class ActivationNatsController {
  constructor(private readonly activation: ActivationService) {}

  @MessagePattern(ActivationRpc.start.subject)
  start(@Payload() payload: unknown) {
    return handleRpc(ActivationRpc.start, payload, (request) => this.activation.start(request));
  }

  @MessagePattern(ActivationRpc.get.subject)
  get(@Payload() payload: unknown) {
    return handleRpc(ActivationRpc.get, payload, (request) => this.activation.get(request.id));
  }
}
