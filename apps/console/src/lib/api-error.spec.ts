import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apiErrorOf, ApiError, describeError } from './api-error';

test('an answer in the API format keeps its code and message', () => {
  const e = apiErrorOf(403, JSON.stringify({ code: 'AUTH.FORBIDDEN', message: 'POST /v1/tasks needs operator' }));
  assert.ok(e instanceof ApiError);
  assert.equal(e.status, 403);
  assert.equal(e.describe(), 'AUTH.FORBIDDEN: POST /v1/tasks needs operator');
});

test('any other body still says something, by its status', () => {
  assert.equal(apiErrorOf(502, '<html>Bad Gateway</html>').describe(), 'HTTP.502: <html>Bad Gateway</html>');
  assert.equal(apiErrorOf(500, '').describe(), 'HTTP.500: the gateway answered 500');
  assert.equal(apiErrorOf(400, '{"code":1}').code, 'HTTP.400');
  assert.equal(describeError(new Error('boom')), 'boom');
  assert.equal(describeError('text'), 'text');
});
