import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canWrite } from './scopes';

test('only operator and admin tokens see write actions', () => {
  assert.equal(canWrite('read-only'), false);
  assert.equal(canWrite('operator'), true);
  assert.equal(canWrite('admin'), true);
});
