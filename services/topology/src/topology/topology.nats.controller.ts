import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { TopologyRpc } from '@fleetcast/contracts';
import { handleRpc } from '@fleetcast/service-kit';
import { TopologyService } from './topology.service';

/** Topology versions over NATS request/reply: validate against the contract, then call the service. */
@Controller()
export class TopologyNatsController {
  constructor(private readonly topology: TopologyService) {}

  @MessagePattern(TopologyRpc.upload.subject)
  upload(@Payload() payload: unknown) {
    return handleRpc(TopologyRpc.upload, payload, (req) => this.topology.upload(req));
  }

  @MessagePattern(TopologyRpc.validate.subject)
  validate(@Payload() payload: unknown) {
    return handleRpc(TopologyRpc.validate, payload, (req) => this.topology.validate(req.document));
  }

  @MessagePattern(TopologyRpc.get.subject)
  get(@Payload() payload: unknown) {
    return handleRpc(TopologyRpc.get, payload, (req) => this.topology.get(req.version));
  }

  @MessagePattern(TopologyRpc.listVersions.subject)
  listVersions(@Payload() payload: unknown) {
    return handleRpc(TopologyRpc.listVersions, payload, (req) => this.topology.listVersions(req.limit, req.offset));
  }

  @MessagePattern(TopologyRpc.generateDraft.subject)
  generateDraft(@Payload() payload: unknown) {
    return handleRpc(TopologyRpc.generateDraft, payload, (req) => this.topology.generateDraft(req));
  }
}
