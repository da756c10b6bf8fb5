import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { createPackageSchema, createTaskSchema, InventoryRpc, packageSchema, stateCountsSchema } from '@fleetcast/contracts';
import { UnsupportedZodTypeError, zodToOpenApi, zodToQueryParameters } from './zod-openapi';

test('objects list their properties; optional fields and (on the input side) defaulted ones are not required', () => {
  const schema = z.object({ a: z.string(), b: z.number().optional(), c: z.boolean().default(true) });
  assert.deepEqual(zodToOpenApi(schema, 'input'), {
    type: 'object',
    properties: { a: { type: 'string' }, b: { type: 'number' }, c: { type: 'boolean', default: true } },
    required: ['a'],
  });
  assert.deepEqual(zodToOpenApi(schema, 'output').required, ['a', 'c'], 'a default always fills the field in a reply');
});

test('strict objects forbid, catchall objects describe, further properties', () => {
  assert.equal(zodToOpenApi(z.object({ a: z.string() }).strict()).additionalProperties, false);
  assert.deepEqual(zodToOpenApi(z.object({}).catchall(z.number())).additionalProperties, { type: 'number' });
  assert.equal(zodToOpenApi(z.object({ a: z.string() })).additionalProperties, undefined);
});

test('strings carry their lengths, pattern and format', () => {
  assert.deepEqual(zodToOpenApi(z.string().min(1).max(64).regex(/^[a-z]+$/)), { type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-z]+$' });
  assert.equal(zodToOpenApi(z.string().datetime({ offset: true })).format, 'date-time');
  assert.equal(zodToOpenApi(z.string().url()).format, 'uri');
  assert.equal(zodToOpenApi(z.string().uuid()).format, 'uuid');
  assert.equal(zodToOpenApi(z.string().email()).format, 'email');
  assert.equal(zodToOpenApi(z.string().ip({ version: 'v4' })).format, 'ipv4');
  assert.equal(zodToOpenApi(z.string().ip()).format, 'ip');
  assert.deepEqual(zodToOpenApi(z.string().length(3)), { type: 'string', minLength: 3, maxLength: 3 });
  assert.deepEqual(zodToOpenApi(z.string().startsWith('a.b')), { type: 'string', pattern: '^a\\.b' });
  const twoPatterns = zodToOpenApi(z.string().regex(/a/).regex(/b/));
  assert.deepEqual(twoPatterns.allOf, [{ type: 'string', pattern: 'a' }, { type: 'string', pattern: 'b' }]);
});

test('numbers: integers, inclusive and exclusive bounds', () => {
  assert.deepEqual(zodToOpenApi(z.number().int().min(1).max(1000)), { type: 'integer', minimum: 1, maximum: 1000 });
  assert.deepEqual(zodToOpenApi(z.number().positive()), { type: 'number', minimum: 0, exclusiveMinimum: true });
  assert.deepEqual(zodToOpenApi(z.number().int().nonnegative()), { type: 'integer', minimum: 0 });
  assert.deepEqual(zodToOpenApi(z.number().lt(5).multipleOf(0.5)), { type: 'number', maximum: 5, exclusiveMaximum: true, multipleOf: 0.5 });
});

test('booleans, enums, native enums and literals', () => {
  assert.deepEqual(zodToOpenApi(z.boolean()), { type: 'boolean' });
  assert.deepEqual(zodToOpenApi(z.enum(['install', 'cache-only'])), { type: 'string', enum: ['install', 'cache-only'] });
  enum Level {
    Low = 1,
    High = 2,
  }
  assert.deepEqual(zodToOpenApi(z.nativeEnum(Level)), { type: 'number', enum: [1, 2] });
  assert.deepEqual(zodToOpenApi(z.literal(true)), { type: 'boolean', enum: [true] });
  assert.deepEqual(zodToOpenApi(z.literal(3)), { type: 'integer', enum: [3] });
});

test('arrays carry their item schema and size bounds', () => {
  assert.deepEqual(zodToOpenApi(z.array(z.string()).min(1).max(100)), { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: 100 });
});

test('nullable becomes OpenAPI 3.0 `nullable`, and a nullable enum lists null', () => {
  assert.deepEqual(zodToOpenApi(z.string().nullable()), { type: 'string', nullable: true });
  assert.deepEqual(zodToOpenApi(z.enum(['a']).nullable()), { type: 'string', enum: ['a', null], nullable: true });
  assert.deepEqual(zodToOpenApi(z.union([z.number(), z.null()])), { type: 'number', nullable: true });
});

test('unions, intersections and discriminated unions', () => {
  assert.deepEqual(zodToOpenApi(z.union([z.string(), z.number()])), { anyOf: [{ type: 'string' }, { type: 'number' }] });
  assert.deepEqual(zodToOpenApi(z.intersection(z.object({ a: z.string() }), z.object({ b: z.string() }))).allOf?.length, 2);
  const tagged = zodToOpenApi(z.discriminatedUnion('ok', [z.object({ ok: z.literal(true) }), z.object({ ok: z.literal(false) })]));
  assert.deepEqual(tagged.discriminator, { propertyName: 'ok' });
  assert.equal(tagged.oneOf?.length, 2);
});

test('records: free keys become additionalProperties, enum keys become named optional properties', () => {
  assert.deepEqual(zodToOpenApi(z.record(z.string(), z.array(z.string()))), { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } });
  const counts = zodToOpenApi(stateCountsSchema);
  assert.equal(counts.additionalProperties, false);
  assert.deepEqual(Object.keys(counts.properties ?? {}), ['pending', 'queued', 'downloading', 'cached', 'installing', 'succeeded', 'failed', 'cancelled']);
  assert.equal(counts.required, undefined);
});

test('refinements keep their shape; a transform has no output schema; pipelines pick their side', () => {
  const refined = z.object({ a: z.string().optional() }).refine((v) => v.a !== undefined);
  assert.deepEqual(zodToOpenApi(refined), { type: 'object', properties: { a: { type: 'string' } } });
  const transformed = z.string().transform((s) => s.length);
  assert.deepEqual(zodToOpenApi(transformed, 'input'), { type: 'string' });
  assert.deepEqual(zodToOpenApi(transformed, 'output'), {});
  const piped = z.string().pipe(z.coerce.number());
  assert.deepEqual(zodToOpenApi(piped, 'input'), { type: 'string' });
  assert.deepEqual(zodToOpenApi(piped, 'output'), { type: 'number' });
});

test('descriptions are kept', () => {
  assert.equal(zodToOpenApi(z.string().describe('the name')).description, 'the name');
});

test('a zod type with no OpenAPI form is refused with its path named', () => {
  assert.throws(
    () => zodToOpenApi(z.object({ callback: z.function() })),
    (error: unknown) => error instanceof UnsupportedZodTypeError && /ZodFunction at callback/.test(error.message),
  );
});

test('the contracts convert: a task needs a package, an action and targets; its targets say which fields they take', () => {
  const task = zodToOpenApi(createTaskSchema, 'input');
  assert.deepEqual(task.required, ['packageId', 'action', 'targets']);
  const targets = task.properties?.targets as { properties: Record<string, unknown> };
  assert.deepEqual(Object.keys(targets.properties), ['deviceIds', 'query']);
  const created = zodToOpenApi(createPackageSchema, 'input');
  assert.deepEqual(created.required, ['name', 'version', 'platform', 'installCommand']);
  const pkg = zodToOpenApi(packageSchema, 'output');
  assert.ok(pkg.required?.includes('installArgs'), 'a stored package always has its arguments');
  assert.deepEqual(pkg.properties?.contentId, { type: 'string', pattern: '^[0-9a-f]{64}$', nullable: true });
});

test('query parameters come from an object schema, one per field, with coercible types', () => {
  const parameters = zodToQueryParameters(InventoryRpc.listDevices.request);
  assert.deepEqual(
    parameters.map((p) => [p.name, p.required, p.schema.type]),
    [
      ['limit', false, 'integer'],
      ['offset', false, 'integer'],
      ['platform', false, 'string'],
      ['subnet', false, 'string'],
      ['stale', false, 'boolean'],
      ['versionState', false, 'string'],
    ],
  );
});
