import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { createPackageSchema, createTaskSchema, InventoryRpc, packageSchema, stateCountsSchema, topologyDocumentSchema } from '@fleetcast/contracts';
import { OpenApiGenerationError, outputSide, zodToOpenApi, zodToOpenApiComponents, zodToQueryParameters } from './zod-openapi';

test('objects list their properties; optional fields are never required, defaulted ones only in replies', () => {
  const schema = z.object({ a: z.string(), b: z.number().optional(), c: z.boolean().default(true) });
  assert.deepEqual(zodToOpenApi(schema, 'input'), {
    type: 'object',
    properties: { a: { type: 'string' }, b: { type: 'number' }, c: { type: 'boolean', default: true } },
    required: ['a'],
  });
  const output = zodToOpenApi(schema, 'output');
  assert.deepEqual(output.required, ['a', 'c'], 'a default always fills the field in a reply');
  assert.deepEqual(output.properties?.c, { type: 'boolean', default: true }, 'the default is still documented');
});

test('defaults nested in arrays and nullable fields are required on the output side too', () => {
  const office = z.object({ id: z.string(), subnets: z.array(z.string()).default([]), parent: z.string().nullable().default(null) });
  const doc = z.object({ offices: z.array(office) });
  const item = (side: 'input' | 'output') => (zodToOpenApi(doc, side).properties?.offices as { items: { required?: string[]; properties: Record<string, unknown> } }).items;
  assert.deepEqual(item('input').required, ['id']);
  assert.deepEqual(item('output').required, ['id', 'subnets', 'parent']);
  assert.deepEqual(item('output').properties.parent, { type: 'string', nullable: true, default: null });
});

test('the output side rebuilds only what has a default, keeping descriptions and checks', () => {
  const plain = z.object({ a: z.array(z.string().min(1)) });
  assert.equal(outputSide(plain), plain, 'nothing to change: the same schema');
  const described = z.object({ n: z.number().int().max(9).default(3).describe('how many') }).strict().describe('a thing');
  const rebuilt = outputSide(described) as z.AnyZodObject;
  assert.notEqual(rebuilt, described);
  assert.equal(rebuilt.description, 'a thing');
  assert.equal(rebuilt._def.unknownKeys, 'strict');
  assert.deepEqual(zodToOpenApi(described, 'output'), {
    type: 'object',
    description: 'a thing',
    properties: { n: { type: 'integer', maximum: 9, default: 3, description: 'how many' } },
    required: ['n'],
    additionalProperties: false,
  });
});

test('strict objects forbid, catchall objects describe, further properties', () => {
  assert.equal(zodToOpenApi(z.object({ a: z.string() }).strict()).additionalProperties, false);
  assert.deepEqual(zodToOpenApi(z.object({}).catchall(z.number())).additionalProperties, { type: 'number' });
  assert.equal(zodToOpenApi(z.object({ a: z.string() })).additionalProperties, undefined);
});

test('strings carry their lengths, pattern and format; numbers their bounds', () => {
  assert.deepEqual(zodToOpenApi(z.string().min(1).max(64).regex(/^[a-z]+$/)), { type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-z]+$' });
  assert.equal(zodToOpenApi(z.string().datetime({ offset: true })).format, 'date-time');
  assert.equal(zodToOpenApi(z.string().url()).format, 'uri');
  assert.equal(zodToOpenApi(z.string().uuid()).format, 'uuid');
  assert.deepEqual(zodToOpenApi(z.number().int().min(1).max(1000)), { type: 'integer', minimum: 1, maximum: 1000 });
  assert.deepEqual(zodToOpenApi(z.number().positive()), { type: 'number', minimum: 0, exclusiveMinimum: true });
});

test('enums and literals list their values; a nullable enum lists null among them', () => {
  assert.deepEqual(zodToOpenApi(z.enum(['install', 'cache-only'])), { type: 'string', enum: ['install', 'cache-only'] });
  assert.deepEqual(zodToOpenApi(z.literal(true)), { type: 'boolean', enum: [true] });
  assert.deepEqual(zodToOpenApi(z.enum(['a', 'b']).nullable()), { type: 'string', enum: ['a', 'b', null], nullable: true });
  assert.deepEqual(zodToOpenApi(z.string().nullable()), { type: 'string', nullable: true });
});

test('arrays carry their item schema and size bounds', () => {
  assert.deepEqual(zodToOpenApi(z.array(z.string()).min(1).max(100)), { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: 100 });
});

test('records: free keys become additionalProperties, enum keys become named optional properties', () => {
  assert.deepEqual(zodToOpenApi(z.record(z.string(), z.array(z.string()))), { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } });
  const counts = zodToOpenApi(stateCountsSchema);
  assert.deepEqual(Object.keys(counts.properties ?? {}), ['pending', 'queued', 'downloading', 'cached', 'installing', 'succeeded', 'failed', 'cancelled']);
  assert.equal(counts.required, undefined);
});

test('unions, nullable unions and discriminated unions', () => {
  assert.deepEqual(zodToOpenApi(z.union([z.string(), z.number()])), { anyOf: [{ type: 'string' }, { type: 'number' }] });
  assert.deepEqual(zodToOpenApi(z.union([z.string(), z.number()]).nullable()), { anyOf: [{ type: 'string' }, { type: 'number' }, { nullable: true }] });
  const tagged = zodToOpenApi(z.discriminatedUnion('ok', [z.object({ ok: z.literal(true) }), z.object({ ok: z.literal(false), why: z.string().default('') })]), 'output');
  assert.equal(tagged.oneOf?.length, 2);
  assert.deepEqual((tagged.oneOf?.[1] as { required?: string[] }).required, ['ok', 'why'], 'defaults inside a union option are filled in replies too');
});

test('refinements keep their shape; a pipeline is described by what it accepts or what it yields', () => {
  const refined = z.object({ a: z.string().optional() }).refine((v) => v.a !== undefined);
  assert.deepEqual(zodToOpenApi(refined), { type: 'object', properties: { a: { type: 'string' } } });
  const piped = z.string().transform(Number).pipe(z.number().int());
  assert.deepEqual(zodToOpenApi(piped, 'input'), { type: 'string' });
  assert.deepEqual(zodToOpenApi(piped, 'output'), { type: 'integer' });
});

test('descriptions are kept', () => {
  assert.equal(zodToOpenApi(z.string().describe('the name')).description, 'the name');
  assert.deepEqual(zodToOpenApi(z.object({ a: z.string().describe('field') })).properties?.a, { type: 'string', description: 'field' });
});

test('a zod type with no OpenAPI form is refused, not documented as nothing', () => {
  assert.throws(
    () => zodToOpenApi(z.object({ callback: z.function() })),
    (error: unknown) => error instanceof OpenApiGenerationError && error.code === 'GATEWAY.OPENAPI_GENERATION' && /ZodFunction/.test(error.message),
  );
});

test('named components: each under its name, each on its own side', () => {
  const schemas = zodToOpenApiComponents([
    { name: 'TopologyDocumentInput', schema: topologyDocumentSchema, side: 'input' },
    { name: 'TopologyDocument', schema: topologyDocumentSchema, side: 'output' },
  ]);
  assert.deepEqual(Object.keys(schemas), ['TopologyDocumentInput', 'TopologyDocument']);
  assert.deepEqual(schemas.TopologyDocumentInput?.required, ['schemaVersion', 'origin', 'offices']);
  assert.ok(schemas.TopologyDocument?.required?.includes('defaultOffice'), 'a stored topology always names its default office');
});

test('the contracts convert: a task needs a package, an action and targets; a stored package always has its arguments', () => {
  const task = zodToOpenApi(createTaskSchema, 'input');
  assert.deepEqual(task.required, ['packageId', 'action', 'targets']);
  const targets = task.properties?.targets as { properties: Record<string, unknown> };
  assert.deepEqual(Object.keys(targets.properties), ['deviceIds', 'query']);
  assert.deepEqual(zodToOpenApi(createPackageSchema, 'input').required, ['name', 'version', 'platform', 'installCommand']);
  const pkg = zodToOpenApi(packageSchema, 'output');
  assert.ok(pkg.required?.includes('installArgs'));
  assert.deepEqual(pkg.properties?.contentId, { type: 'string', pattern: '^[0-9a-f]{64}$', nullable: true });
});

test('query parameters come from an object schema, one per field, with defaults and descriptions', () => {
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
  assert.deepEqual(parameters[0]?.schema, { type: 'integer', minimum: 1, maximum: 1000, default: 100 });
  const described = zodToQueryParameters(z.object({ q: z.string().describe('search text'), n: z.number() }).refine(() => true));
  assert.deepEqual(described, [
    { name: 'q', required: true, schema: { type: 'string' }, description: 'search text' },
    { name: 'n', required: true, schema: { type: 'number' } },
  ]);
  assert.throws(() => zodToQueryParameters(z.string()), /must be an object/);
  const coerced = zodToQueryParameters(z.object({ fromBlock: z.coerce.number().int().nonnegative().default(0) }));
  assert.deepEqual(coerced, [{ name: 'fromBlock', required: false, schema: { type: 'integer', minimum: 0, default: 0 } }], 'a query string has no null');
});
