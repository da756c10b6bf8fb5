import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ExecutionContext } from '@nestjs/common';
import { ErrorCode, FleetcastError } from '@fleetcast/contracts';
import { HealthController, MetricsController } from '@fleetcast/service-kit';
import type { GatewayConfig } from '../config/gateway.config';
import { ApiTokenGuard, bearerToken, tokenDigest, tokenMatches } from './api-token.guard';

const accepted = ['first-token', 'second-token-that-is-longer'].map(tokenDigest);

test('tokenMatches accepts each configured token', () => {
  assert.equal(tokenMatches('first-token', accepted), true);
  assert.equal(tokenMatches('second-token-that-is-longer', accepted), true);
});

test('tokenMatches refuses near misses: a prefix, an extension, another case, the empty token', () => {
  for (const candidate of ['first-toke', 'first-token2', 'FIRST-TOKEN', '', ' first-token', 'second-token']) {
    assert.equal(tokenMatches(candidate, accepted), false, candidate);
  }
});

test('tokenMatches refuses everything when no token is configured', () => {
  assert.equal(tokenMatches('first-token', []), false);
});

test('bearerToken reads only the Bearer scheme', () => {
  assert.equal(bearerToken('Bearer abc'), 'abc');
  assert.equal(bearerToken('bearer   abc '), 'abc');
  assert.equal(bearerToken('Basic abc'), undefined);
  assert.equal(bearerToken('Bearer'), undefined);
  assert.equal(bearerToken('Bearer a b'), undefined);
  assert.equal(bearerToken(undefined), undefined);
});

class ApiController {}

function context(controller: object, authorization?: string): { ctx: ExecutionContext; headers: Record<string, string> } {
  const sent: Record<string, string> = {};
  const req = { headers: authorization === undefined ? {} : { authorization }, complete: true };
  const res = { setHeader: (name: string, value: string) => (sent[name] = value) };
  const ctx = {
    getType: () => 'http',
    getClass: () => controller,
    switchToHttp: () => ({ getRequest: () => req, getResponse: () => res }),
  } as unknown as ExecutionContext;
  return { ctx, headers: sent };
}

const config = (overrides: Partial<GatewayConfig> = {}) => ({ apiTokens: ['first-token'], authDisabled: false, ...overrides }) as GatewayConfig;

test('the guard lets a request with a valid token through', () => {
  assert.equal(new ApiTokenGuard(config()).canActivate(context(ApiController, 'Bearer first-token').ctx), true);
});

test('the guard refuses a missing or wrong token with AUTH.UNAUTHORIZED and a WWW-Authenticate header', () => {
  const guard = new ApiTokenGuard(config());
  for (const authorization of [undefined, 'Bearer wrong', 'first-token']) {
    const { ctx, headers } = context(ApiController, authorization);
    assert.throws(
      () => guard.canActivate(ctx),
      (error: unknown) => error instanceof FleetcastError && error.code === ErrorCode.Unauthorized,
      String(authorization),
    );
    assert.match(headers['WWW-Authenticate'] ?? '', /^Bearer/);
  }
});

test('health, readiness and metrics stay open', () => {
  const guard = new ApiTokenGuard(config());
  assert.equal(guard.canActivate(context(HealthController).ctx), true);
  assert.equal(guard.canActivate(context(MetricsController).ctx), true);
});

test('with authentication disabled, every request passes', () => {
  assert.equal(new ApiTokenGuard(config({ apiTokens: [], authDisabled: true })).canActivate(context(ApiController).ctx), true);
});
