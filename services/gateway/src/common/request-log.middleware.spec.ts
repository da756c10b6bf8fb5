import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Request, Response } from 'express';
import type { Logger } from '@fleetcast/telemetry';
import { attachRequestContext } from './request-context';
import { CLIENT_CLOSED_REQUEST, RequestLogMiddleware } from './request-log.middleware';

function setup() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = { info: (fields: Record<string, unknown>) => lines.push(fields) } as unknown as Logger;
  const res = Object.assign(new EventEmitter(), { statusCode: 200, writableFinished: false });
  const req = { method: 'GET', originalUrl: '/v1/devices?subnet=10.0.0.0/24', url: '/devices' };
  let nextCalled = false;
  new RequestLogMiddleware(logger).use(req as unknown as Request, res as unknown as Response, () => (nextCalled = true));
  return { lines, res, nextCalled };
}

test('one line per request with method, path without query, status and duration', () => {
  const { lines, res, nextCalled } = setup();
  assert.ok(nextCalled);
  res.statusCode = 404;
  res.writableFinished = true;
  res.emit('finish');
  res.emit('close');
  assert.equal(lines.length, 1);
  const [line] = lines;
  assert.equal(line.method, 'GET');
  assert.equal(line.path, '/v1/devices');
  assert.equal(line.status, 404);
  assert.equal(typeof line.ms, 'number');
  assert.ok((line.ms as number) >= 0);
});

test('a request whose client went away before the answer is logged as 499', () => {
  const { lines, res } = setup();
  res.emit('close');
  assert.equal(lines.length, 1);
  assert.equal(lines[0].status, CLIENT_CLOSED_REQUEST);
});

test('the line carries the request ID the audit record has', () => {
  const lines: Array<Record<string, unknown>> = [];
  const logger = { info: (fields: Record<string, unknown>) => lines.push(fields) } as unknown as Logger;
  const res = Object.assign(new EventEmitter(), { statusCode: 201, writableFinished: true });
  const req = { method: 'POST', originalUrl: '/v1/tasks', url: '/tasks' } as unknown as Request;
  attachRequestContext(req, { requestId: 'a1b2', receivedAt: new Date(), startedNs: 0n });
  new RequestLogMiddleware(logger).use(req, res as unknown as Response, () => undefined);
  res.emit('finish');
  assert.equal(lines[0]?.requestId, 'a1b2');
});
