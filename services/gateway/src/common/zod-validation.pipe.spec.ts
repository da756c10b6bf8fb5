import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { ErrorCode, FleetcastError, idSchema, InventoryRpc, TasksRpc } from '@fleetcast/contracts';
import { coerceQuery, ZodValidationPipe } from './zod-validation.pipe';

const invalid = (pattern: RegExp, paths: string[]) => (error: unknown) => {
  assert.ok(error instanceof FleetcastError, String(error));
  assert.equal(error.code, ErrorCode.ContractInvalid);
  assert.match(error.message, pattern);
  assert.deepEqual(error.details?.map((d) => d.path), paths);
  return true;
};

test('query strings: numbers and booleans are coerced, defaults applied', () => {
  const pipe = new ZodValidationPipe(InventoryRpc.listDevices.request);
  assert.deepEqual(pipe.transform({ limit: '5', stale: 'true', platform: 'linux' }, { type: 'query' }), {
    limit: 5,
    offset: 0,
    stale: true,
    platform: 'linux',
  });
});

test('query strings: a value that is not a number stays a string, so the error names the field', () => {
  const pipe = new ZodValidationPipe(TasksRpc.listPackages.request);
  assert.throws(() => pipe.transform({ limit: 'abc' }, { type: 'query' }), invalid(/limit: Expected number, received string/, ['limit']));
  assert.throws(() => pipe.transform({ limit: '0' }, { type: 'query' }), invalid(/limit: Number must be greater than or equal to 1/, ['limit']));
  assert.throws(() => pipe.transform({ offset: '1.5' }, { type: 'query' }), invalid(/offset: Expected integer/, ['offset']));
});

test('coerceQuery leaves unknown fields and non-string values alone', () => {
  const schema = z.object({ n: z.number().optional(), b: z.boolean().default(false), s: z.string().optional() });
  assert.deepEqual(coerceQuery(schema, { n: '-2', b: 'false', s: '7', other: '1' }), { n: -2, b: false, s: '7', other: '1' });
  assert.deepEqual(coerceQuery(schema, { b: 'yes' }), { b: 'yes' });
});

test('bodies: every offending field is named, nested paths joined with dots', () => {
  const pipe = new ZodValidationPipe(TasksRpc.createTask.request);
  assert.throws(
    () => pipe.transform({ packageId: 'p1', action: 'install', targets: { deviceIds: ['a.b'] } }, { type: 'body' }),
    invalid(/targets\.deviceIds\.0: must be 1-64 characters/, ['targets.deviceIds.0']),
  );
  assert.throws(() => pipe.transform({ action: 'reboot' }, { type: 'body' }), invalid(/packageId: Required; action: Invalid enum value/, ['packageId', 'action', 'targets']));
});

test('bodies: a missing body is named as such', () => {
  const pipe = new ZodValidationPipe(TasksRpc.createPackage.request);
  assert.throws(() => pipe.transform(undefined, { type: 'body' }), invalid(/request body is missing/, ['(root)']));
});

test('path parameters are named by their parameter', () => {
  const pipe = new ZodValidationPipe(idSchema);
  assert.equal(pipe.transform('pkg-1', { type: 'param', data: 'id' }), 'pkg-1');
  assert.throws(() => pipe.transform('a.b', { type: 'param', data: 'id' }), invalid(/id: must be 1-64 characters/, ['id']));
});
