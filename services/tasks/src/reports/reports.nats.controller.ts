import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { ReportsRpc } from '@fleetcast/contracts';
import { handleRpc } from '@fleetcast/service-kit';
import { ReportsRepository } from './reports.repository';

/** Fleet-wide figures over time from what the tasks service kept of the status reports. */
@Controller()
export class ReportsNatsController {
  constructor(private readonly reports: ReportsRepository) {}

  @MessagePattern(ReportsRpc.bytesBySubnet.subject)
  async bytesBySubnet(@Payload() payload: unknown) {
    return handleRpc(ReportsRpc.bytesBySubnet, payload, async (req) => ({ items: await this.reports.bytesBySubnet(new Date(req.from), new Date(req.to)) }));
  }
}
