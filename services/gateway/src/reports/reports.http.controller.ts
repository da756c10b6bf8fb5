import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { wanSavingsQuerySchema, WanSavingsQuery, wanSavingsReportSchema } from '@fleetcast/contracts';
import { ApiContractQuery, ApiContractResponse, ApiErrorResponses } from '../common/openapi.decorators';
import { ZodValidationPipe } from '../common/zod-validation.pipe';
import { ReportsService } from './reports.service';

@ApiTags('reports')
@ApiBearerAuth()
@Controller('v1/reports')
export class ReportsHttpController {
  constructor(private readonly reports: ReportsService) {}

  @Get('wan-savings')
  @ApiOperation({
    summary: 'WAN bytes saved: bytes delivered from multicast and peers versus from the origin, per subnet or office, over a time range',
    description:
      'From every device status report the tasks service applied, summed per hour (`from` is rounded down to its hour; a report counts in the hour it arrived). ' +
      '`groupBy=office` places each subnet in the current topology\'s office whose network holds it (404 TOPOLOGY.NO_TOPOLOGY without one). Most saved first.',
  })
  @ApiContractQuery(wanSavingsQuerySchema)
  @ApiContractResponse(wanSavingsReportSchema)
  @ApiErrorResponses(400, 401, 404, 503)
  wanSavings(@Query(new ZodValidationPipe(wanSavingsQuerySchema)) query: WanSavingsQuery) {
    return this.reports.wanSavings(query);
  }
}
