import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { planRequestSchema, planSchema } from '@fleetcast/contracts';
import { RequiresScope } from '../auth/requires-scope.decorator';
import { ApiContractBody, ApiContractResponse, ApiErrorResponses } from '../common/openapi.decorators';
import { ZodValidationPipe } from '../common/zod-validation.pipe';
import { PlansService } from './plans.service';

/** What a distribution would cost the WAN and how long it would take, before it is created. */
@ApiTags('plans')
@ApiBearerAuth()
@Controller('v1/plans')
export class PlansHttpController {
  constructor(private readonly plans: PlansService) {}

  @Post()
  @HttpCode(200)
  // A question, not a change: anyone who may read the fleet may ask it.
  @RequiresScope('read-only')
  @ApiOperation({
    summary: 'What-if: WAN bytes and time to complete for a package and a target set, with and without multicast and peers',
    description:
      'Per subnet and per office (offices and WAN links from the current topology; without one, every subnet stands alone behind ' +
      '`defaultWanBandwidthKbps`, else the gateway\'s PLAN_DEFAULT_WAN_KBPS), from the package\'s size, the targets\' subnets and the ' +
      'settings (the profile, else the default one, with `settings` over them). Multicast is planned once per subnet where the settings ' +
      'use it and the office is of type `default`; links are shared along the office parent chain. Stores nothing. ' +
      'Errors: 400 CONTRACT.INVALID naming the field, 400 TASKS.NO_TARGETS when the targets match no device, 404 for an unknown package, ' +
      'profile or device IDs (all named), 409 TASKS.PACKAGE_NOT_READY before the content is uploaded.',
  })
  @ApiContractBody(planRequestSchema)
  @ApiContractResponse(planSchema)
  @ApiErrorResponses(400, 401, 404, 409, 503)
  plan(@Body(new ZodValidationPipe(planRequestSchema)) body: z.output<typeof planRequestSchema>) {
    return this.plans.plan(body);
  }
}
