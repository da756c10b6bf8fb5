import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { LicensingRpc } from '@fleetcast/contracts';
import { handleRpc } from '@fleetcast/service-kit';
import { SeatsService } from './seats.service';

/** Seat queries over NATS request/reply (seats are given and released in-process, by the enrolment). */
@Controller()
export class SeatsNatsController {
  constructor(private readonly seats: SeatsService) {}

  @MessagePattern(LicensingRpc.listSeats.subject)
  listSeats(@Payload() payload: unknown) {
    return handleRpc(LicensingRpc.listSeats, payload, (request) => this.seats.list(request));
  }
}
