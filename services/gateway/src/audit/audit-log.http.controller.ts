import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { auditLogPageSchema, AuditLogQuery, auditLogQuerySchema } from '@fleetcast/contracts';
import { RequiresScope } from '../auth/requires-scope.decorator';
import { ApiContractQuery, ApiContractResponse, ApiErrorResponses } from '../common/openapi.decorators';
import { ZodValidationPipe } from '../common/zod-validation.pipe';
import { AuditService } from './audit.service';

/** The audit log: who changed what, when, through this API. Admins only: it shows how everyone uses the API. */
@ApiTags('audit')
@ApiBearerAuth()
@RequiresScope('admin')
@Controller('v1')
export class AuditLogHttpController {
  constructor(private readonly audit: AuditService) {}

  @Get('audit-log')
  @ApiOperation({
    summary: 'State-changing requests, accepted or refused, oldest first: who, what, when',
    description:
      'One record per POST, PUT, PATCH or DELETE the gateway answered (or whose client went away): the API token (name and scope, or `anonymous`), ' +
      'method, route, path parameters, the ID of what was created or changed, status, error code, request ID and client address. ' +
      'Reads from `since` (default: 24 hours ago) or after the sequence number `after`; `nextAfter` continues where a full page stopped. Needs the admin scope.',
  })
  @ApiContractQuery(auditLogQuerySchema)
  @ApiContractResponse(auditLogPageSchema)
  @ApiErrorResponses(400, 401, 403, 503)
  read(@Query(new ZodValidationPipe(auditLogQuerySchema)) query: AuditLogQuery) {
    return this.audit.read(query);
  }
}
