import { Controller, Get, Inject, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { z } from 'zod';
import { ANONYMOUS_ACTOR, apiScopeSchema } from '@fleetcast/contracts';
import { requestContextOf } from '../common/request-context';
import { ApiContractResponse, ApiErrorResponses } from '../common/openapi.decorators';
import { GATEWAY_CONFIG, GatewayConfig } from '../config/gateway.config';
import { credentialOf } from '../auth/api-tokens';

/** Who the caller's token says it is: what a client (the console) needs to show only what the token may do. */
export const whoamiSchema = z.object({
  /** The token's name, as the audit log records it; `anonymous` when authentication is disabled. */
  name: z.string(),
  /** What it may do: `read-only` reads, `operator` makes day-to-day changes, `admin` everything. */
  scope: apiScopeSchema,
  /** The gateway runs with AUTH_DISABLED=true: every request is let in whatever its token. */
  authDisabled: z.boolean(),
});
export type Whoami = z.infer<typeof whoamiSchema>;

@ApiTags('auth')
@ApiBearerAuth()
@Controller('v1')
export class WhoamiHttpController {
  constructor(@Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig) {}

  @Get('whoami')
  @ApiOperation({ summary: "The calling token's name and scope (a client's sign-in check; costs no call to a service)" })
  @ApiContractResponse(whoamiSchema)
  @ApiErrorResponses(401)
  whoami(@Req() req: Request): Whoami {
    // The guard let the request in: the token is valid, or authentication is disabled.
    const credential = requestContextOf(req)?.credential ?? credentialOf(req.headers.authorization, this.config.apiTokens);
    if (credential.kind === 'token') return { name: credential.token.name, scope: credential.token.scope, authDisabled: this.config.authDisabled };
    return { name: ANONYMOUS_ACTOR, scope: 'admin', authDisabled: true };
  }
}
