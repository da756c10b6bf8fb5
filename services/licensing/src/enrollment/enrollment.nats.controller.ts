import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { EnrollmentRpc } from '@fleetcast/contracts';
import { handleRpc } from '@fleetcast/service-kit';
import { EnrollmentService } from './enrollment.service';

@Controller()
export class EnrollmentNatsController {
  constructor(private readonly enrollment: EnrollmentService) {}

  @MessagePattern(EnrollmentRpc.createToken.subject)
  createToken(@Payload() payload: unknown) {
    return handleRpc(EnrollmentRpc.createToken, payload, (req) => this.enrollment.createToken(req));
  }

  @MessagePattern(EnrollmentRpc.listTokens.subject)
  listTokens(@Payload() payload: unknown) {
    return handleRpc(EnrollmentRpc.listTokens, payload, (req) => this.enrollment.listTokens(req));
  }

  @MessagePattern(EnrollmentRpc.revokeToken.subject)
  revokeToken(@Payload() payload: unknown) {
    return handleRpc(EnrollmentRpc.revokeToken, payload, (req) => this.enrollment.revokeToken(req.id));
  }

  @MessagePattern(EnrollmentRpc.enroll.subject)
  enroll(@Payload() payload: unknown) {
    return handleRpc(EnrollmentRpc.enroll, payload, (req) => this.enrollment.enroll(req));
  }

  @MessagePattern(EnrollmentRpc.retire.subject)
  retire(@Payload() payload: unknown) {
    return handleRpc(EnrollmentRpc.retire, payload, (req) => this.enrollment.retire(req.deviceId));
  }

  @MessagePattern(EnrollmentRpc.getDevice.subject)
  getDevice(@Payload() payload: unknown) {
    return handleRpc(EnrollmentRpc.getDevice, payload, (req) => this.enrollment.getDevice(req.deviceId));
  }

  @MessagePattern(EnrollmentRpc.listDevices.subject)
  listDevices(@Payload() payload: unknown) {
    return handleRpc(EnrollmentRpc.listDevices, payload, (req) => this.enrollment.listDevices(req));
  }
}
