import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '@fleetcast/contracts';
import { codeOfHttpStatus, httpStatusOf } from './fleetcast-error.filter';

test('error codes map to HTTP statuses', () => {
  const table: Array<[string, number]> = [
    [ErrorCode.ContractInvalid, 400],
    [ErrorCode.Unauthorized, 401],
    [ErrorCode.ContentNotFound, 404],
    [ErrorCode.HashMismatch, 422],
    [ErrorCode.SizeMismatch, 422],
    [ErrorCode.Unavailable, 503],
    [ErrorCode.Internal, 500],
    ['SOMETHING.NEW', 500],
  ];
  for (const [code, status] of table) assert.equal(httpStatusOf(code), status, code);
});

test('statuses Nest raises itself get a code', () => {
  assert.equal(codeOfHttpStatus(404), ErrorCode.NotFound);
  assert.equal(codeOfHttpStatus(401), ErrorCode.Unauthorized);
  assert.equal(codeOfHttpStatus(413), ErrorCode.ContractInvalid);
  assert.equal(codeOfHttpStatus(502), ErrorCode.Internal);
});
