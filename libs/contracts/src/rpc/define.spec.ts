import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unservedRequestError } from './define';
import { allRpcSubjects } from './registry';

test('an unserved request names the versions that are served, or says the subject is unknown', () => {
  const served = allRpcSubjects();
  assert.ok(served.includes('tasks.qry.package.get.v1'));
  assert.deepEqual(unservedRequestError('tasks.qry.package.get.v2', served).code, 'CONTRACT.UNSUPPORTED_VERSION');
  assert.match(unservedRequestError('tasks.qry.package.get.v2', served).message, /speaks v1 of tasks\.qry\.package\.get/);
  assert.equal(unservedRequestError('tasks.qry.nothing.here.v1', served).code, 'CONTRACT.UNKNOWN_SUBJECT');
});
