import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { LicensingRpc } from '@fleetcast/contracts';
import { handleRpc } from '@fleetcast/service-kit';
import { LicenseService } from './license.service';

/** The license over NATS request/reply: validate against the contract, then call the service. */
@Controller()
export class LicenseNatsController {
  constructor(private readonly license: LicenseService) {}

  @MessagePattern(LicensingRpc.getLicense.subject)
  getLicense(@Payload() payload: unknown) {
    return handleRpc(LicensingRpc.getLicense, payload, () => this.license.status());
  }

  @MessagePattern(LicensingRpc.installLicense.subject)
  installLicense(@Payload() payload: unknown) {
    return handleRpc(LicensingRpc.installLicense, payload, (request) => this.license.install(request.key));
  }
}
