import { CanActivate, ExecutionContext, Inject, Injectable, Type } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { ApiScope, ErrorCode, FleetcastError } from '@fleetcast/contracts';
import { HealthController, MetricsController } from '@fleetcast/service-kit';
import { noteRoute, requestContextOf, routePatternOf } from '../common/request-context';
import { GATEWAY_CONFIG, GatewayConfig } from '../config/gateway.config';
import { EnrollHttpController } from '../enrollment/enrollment.http.controller';
import { credentialOf } from './api-tokens';
import { REQUIRED_SCOPE } from './requires-scope.decorator';
import { decideAccess } from './scopes';

/**
 * Controllers that answer without a token: probes and scrapers (liveness, readiness, metrics) carry
 * none, and an enrolling device carries an enrollment token instead (checked by the licensing service). Listed by class rather than path so that no spelling of a URL can slip past the guard.
 * The API document (/docs, /docs-json) is served outside Nest's router and never reaches a guard.
 */
const OPEN_CONTROLLERS: ReadonlySet<Type<unknown>> = new Set<Type<unknown>>([HealthController, MetricsController, EnrollHttpController]);

/**
 * Every API route needs a configured bearer token whose scope covers the route (declared with
 * `@RequiresScope`, else by method), unless authentication was disabled by configuration.
 */
@Injectable()
export class ApiTokenGuard implements CanActivate {
  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly reflector: Reflector,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const http = context.switchToHttp();
    const req = http.getRequest<Request>();
    const requestContext = requestContextOf(req);
    if (requestContext) noteRoute(requestContext, req);
    const decision = decideAccess({
      // Resolved once by the audit middleware as the request arrived; here only without it (unit tests).
      credential: requestContext?.credential ?? credentialOf(req.headers.authorization, this.config.apiTokens),
      method: req.method,
      route: routePatternOf(req) ?? req.path,
      declared: this.reflector.getAllAndOverride<ApiScope | undefined>(REQUIRED_SCOPE, [context.getHandler(), context.getClass()]),
      open: OPEN_CONTROLLERS.has(context.getClass()),
      authDisabled: this.config.authDisabled,
    });
    if (decision.allowed) return true;
    if (requestContext) requestContext.errorCode = decision.code;
    const res = http.getResponse<Response>();
    // RFC 6750 3: a 401 names the scheme the client should use; a 403 says the scope is short, and which one is needed.
    res.setHeader(
      'WWW-Authenticate',
      decision.code === ErrorCode.Forbidden ? `Bearer realm="fleetcast", error="insufficient_scope", scope="${decision.needed}"` : 'Bearer realm="fleetcast"',
    );
    // An upload refused here has its body still unread; closing beats reading gigabytes to discard them.
    if (!req.complete) res.setHeader('Connection', 'close');
    throw new FleetcastError(decision.code, decision.message);
  }
}
