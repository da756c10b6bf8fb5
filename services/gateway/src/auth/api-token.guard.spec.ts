import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { ErrorCode, FleetcastError } from '@fleetcast/contracts';
import { HealthController, MetricsController } from '@fleetcast/service-kit';
import { attachRequestContext, requestContextOf } from '../common/request-context';
import type { GatewayConfig } from '../config/gateway.config';
import { EnrollHttpController } from '../enrollment/enrollment.http.controller';
import { credentialOf, parseApiTokens } from './api-tokens';
import { ApiTokenGuard } from './api-token.guard';
import { RequiresScope } from './requires-scope.decorator';

const sha = (token: string) => createHash('sha256').update(token).digest('hex');
const { tokens } = parseApiTokens(`reader:read-only:sha256:${sha('reader-token')},ops:operator:sha256:${sha('ops-token')},root:admin:sha256:${sha('root-token')}`);

class ApiController {
  list() {}
  create() {}
  @RequiresScope('admin')
  install() {}
}

@RequiresScope('admin')
class AdminController {
  read() {}
  @RequiresScope('read-only')
  peek() {}
}

interface Call {
  controller: new () => object;
  handler: string;
  method: string;
  authorization?: string;
  /** Whether the audit middleware set up a context first (it does for every real request). */
  withContext?: boolean;
}

function context(call: Call) {
  const sent: Record<string, string> = {};
  const req = {
    method: call.method,
    path: '/v1/thing/7',
    route: { path: '/v1/thing/:id' },
    params: { id: '7' },
    headers: call.authorization === undefined ? {} : { authorization: call.authorization },
    complete: true,
  } as unknown as Request;
  if (call.withContext) {
    attachRequestContext(req, { requestId: 'r', receivedAt: new Date(), startedNs: 0n, credential: credentialOf(call.authorization, tokens) });
  }
  const res = { setHeader: (name: string, value: string) => (sent[name] = value) };
  const ctx = {
    getType: () => 'http',
    getClass: () => call.controller,
    getHandler: () => (call.controller.prototype as Record<string, unknown>)[call.handler],
    switchToHttp: () => ({ getRequest: () => req, getResponse: () => res }),
  } as unknown as ExecutionContext;
  return { ctx, headers: sent, req };
}

const config = (overrides: Partial<GatewayConfig> = {}) => ({ apiTokens: tokens, authDisabled: false, ...overrides }) as GatewayConfig;
const guard = (overrides: Partial<GatewayConfig> = {}) => new ApiTokenGuard(config(overrides), new Reflector());

function outcome(call: Call, g = guard()): string {
  try {
    return g.canActivate(context(call).ctx) ? 'allowed' : 'refused';
  } catch (error) {
    assert.ok(error instanceof FleetcastError, String(error));
    return error.code;
  }
}

test('the guard applies each route scope to each token', () => {
  const table: Array<[string, string, string, string | undefined, string]> = [
    // handler, HTTP method, controller, token, outcome
    ['list', 'GET', 'api', 'reader-token', 'allowed'],
    ['create', 'POST', 'api', 'reader-token', ErrorCode.Forbidden],
    ['create', 'POST', 'api', 'ops-token', 'allowed'],
    ['install', 'PUT', 'api', 'ops-token', ErrorCode.Forbidden],
    ['install', 'PUT', 'api', 'root-token', 'allowed'],
    // The class's declaration, and a method's that overrides it.
    ['read', 'GET', 'admin', 'ops-token', ErrorCode.Forbidden],
    ['read', 'GET', 'admin', 'root-token', 'allowed'],
    ['peek', 'GET', 'admin', 'reader-token', 'allowed'],
    ['list', 'GET', 'api', undefined, ErrorCode.Unauthorized],
    ['list', 'GET', 'api', 'wrong', ErrorCode.Unauthorized],
  ];
  for (const [handler, method, controller, token, expected] of table) {
    for (const withContext of [false, true]) {
      const call = { controller: controller === 'api' ? ApiController : AdminController, handler, method, withContext, ...(token ? { authorization: `Bearer ${token}` } : {}) };
      assert.equal(outcome(call), expected, JSON.stringify(call));
    }
  }
});

test('a 401 carries WWW-Authenticate; a 403 names the scope needed there and in the message', () => {
  const missing = context({ controller: ApiController, handler: 'list', method: 'GET' });
  assert.throws(() => guard().canActivate(missing.ctx), (e: unknown) => e instanceof FleetcastError && e.code === ErrorCode.Unauthorized && /missing API token/.test(e.message));
  assert.equal(missing.headers['WWW-Authenticate'], 'Bearer realm="fleetcast"');
  const short = context({ controller: ApiController, handler: 'create', method: 'POST', authorization: 'Bearer reader-token', withContext: true });
  assert.throws(
    () => guard().canActivate(short.ctx),
    (e: unknown) => e instanceof FleetcastError && e.code === ErrorCode.Forbidden && e.message === 'POST /v1/thing/:id needs an API token with the operator scope; "reader" has read-only',
  );
  assert.equal(short.headers['WWW-Authenticate'], 'Bearer realm="fleetcast", error="insufficient_scope", scope="operator"');
  // What the audit record will say about it.
  const noted = requestContextOf(short.req)!;
  assert.equal(noted.errorCode, ErrorCode.Forbidden);
  assert.equal(noted.route, '/v1/thing/:id');
  assert.deepEqual(noted.params, { id: '7' });
});

test('health, readiness, metrics and enrollment stay open', () => {
  const open: Array<[unknown, string, string]> = [
    [HealthController, 'health', 'GET'],
    [MetricsController, 'metrics', 'GET'],
    [EnrollHttpController, 'enroll', 'POST'],
  ];
  for (const [controller, handler, method] of open) {
    assert.equal(outcome({ controller: controller as new () => object, handler, method }), 'allowed', handler);
  }
});

test('with authentication disabled, every request passes', () => {
  assert.equal(outcome({ controller: ApiController, handler: 'install', method: 'PUT' }, guard({ apiTokens: [], authDisabled: true })), 'allowed');
});
