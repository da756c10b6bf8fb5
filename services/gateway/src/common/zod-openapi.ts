import { extendZodWithOpenApi, OpenApiGeneratorV3, OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import type { SchemaObject } from '@nestjs/swagger';
import { z } from 'zod';

// `OpenAPIRegistry.register` names a schema through the `.openapi()` method this adds to zod.
extendZodWithOpenApi(z);

/**
 * Which side of a schema to describe. A field with a default may be left out of a request
 * (`input`) but is always present in a response (`output`).
 */
export type SchemaSide = 'input' | 'output';

/**
 * The library could not describe a schema (a zod type with no OpenAPI form, such as a function).
 * Thrown at start-up so that a new kind of contract field fails the document's build and its
 * test rather than documenting nothing. The library's own errors are plain objects with a
 * message (not `Error`s, and not exported), so a stack trace would not show where they came from.
 */
export class OpenApiGenerationError extends Error {
  readonly code = 'GATEWAY.OPENAPI_GENERATION';
  constructor(what: string, cause: LibraryError) {
    const typeName = (cause as { data?: { currentSchema?: { typeName?: string } } }).data?.currentSchema?.typeName;
    super(`cannot describe ${what} in OpenAPI${typeName ? ` (zod type ${typeName})` : ''}: ${cause.message}`);
    this.name = 'OpenApiGenerationError';
  }
}

/** A query parameter as Nest's `@ApiQuery` takes it. */
export interface QueryParameter {
  name: string;
  required: boolean;
  schema: SchemaObject;
  description?: string;
}

/**
 * The name a schema is registered under while the library converts it on its own; it never
 * reaches the document, where a schema is either inline or one of the named components.
 */
const SCRATCH_NAME = 'Schema';
const SCRATCH_PATH = '/query';

/**
 * Converts a contract's zod schema into an OpenAPI 3.0 schema object with
 * `@asteasolutions/zod-to-openapi`, so that the document is generated from the same schemas
 * that validate requests and replies and cannot drift from them. The library describes what a
 * schema accepts (its input side); the output side is described from {@link outputSide}.
 */
export function zodToOpenApi(schema: z.ZodTypeAny, side: SchemaSide = 'output'): SchemaObject {
  return convertNamed([{ name: SCRATCH_NAME, schema, side }], `a ${side} schema`)[SCRATCH_NAME]!;
}

/** Converts several named schemas at once: the document's components.schemas. */
export function zodToOpenApiComponents(named: readonly NamedSchema[]): Record<string, SchemaObject> {
  return convertNamed(named, `the named schemas (${named.map(({ name }) => name).join(', ')})`);
}

/** A contract schema to appear in the document under a name, described on one side. */
export interface NamedSchema {
  name: string;
  schema: z.ZodTypeAny;
  side: SchemaSide;
}

function convertNamed(named: readonly NamedSchema[], what: string): Record<string, SchemaObject> {
  const registry = new OpenAPIRegistry();
  for (const { name, schema, side } of named) registry.register(name, side === 'output' ? outputSide(schema) : schema);
  const { components } = generate(what, () => new OpenApiGeneratorV3(registry.definitions).generateComponents());
  return tidy(components?.schemas ?? {}) as Record<string, SchemaObject>;
}

/** The OpenAPI query parameters of an object schema (each field one parameter), as the library generates them for a route. */
export function zodToQueryParameters(schema: z.ZodTypeAny): QueryParameter[] {
  const registry = new OpenAPIRegistry();
  registry.registerPath({ method: 'get', path: SCRATCH_PATH, request: { query: queryObject(schema) }, responses: {} });
  const { paths } = generate('a query schema', () => new OpenApiGeneratorV3(registry.definitions).generateDocument({ openapi: '3.0.0', info: { title: '', version: '' } }));
  const parameters = (paths?.[SCRATCH_PATH]?.get?.parameters ?? []) as Array<{ name: string; required?: boolean; schema: SchemaObject; description?: string }>;
  return tidy(parameters).map(({ name, required, schema: parameter }) => {
    // The library leaves a field's description in its schema; Swagger UI shows a parameter's own.
    // A query string cannot carry null: a field that accepts it (a coerced number does) is not nullable here.
    const { description, nullable: _nullable, ...rest } = parameter;
    return { name, required: required ?? false, schema: rest, ...(description ? { description } : {}) };
  });
}

interface LibraryError {
  message: string;
}

function generate<T>(what: string, run: () => T): T {
  try {
    return run();
  } catch (error) {
    const fromLibrary = !(error instanceof Error) && typeof (error as Partial<LibraryError> | null)?.message === 'string';
    throw fromLibrary ? new OpenApiGenerationError(what, error as LibraryError) : error;
  }
}

/** The object under a query schema's refinements: each of its fields is one parameter. */
function queryObject(schema: z.ZodTypeAny): z.AnyZodObject {
  if (schema instanceof z.ZodObject) return schema;
  if (schema instanceof z.ZodEffects) return queryObject(schema.innerType());
  throw new TypeError(`a query schema must be an object, not ${(schema._def as { typeName?: string }).typeName}`);
}

/**
 * The schema of what a parse produces rather than what it accepts: every field with a default
 * becomes required (a reply always carries it once the default filled it in) and keeps its
 * default as documentation, and a pipeline is described by its output schema. Only containers
 * are rebuilt, from their own definitions, so descriptions and checks stay as they were; a
 * schema with nothing to change is returned as it is. Not covered, as no contract uses them:
 * defaults inside lazy schemas and tuples, and a transform's output (the library describes a
 * transform by what it accepts).
 */
export function outputSide(schema: z.ZodTypeAny): z.ZodTypeAny {
  const def = schema._def as { typeName?: z.ZodFirstPartyTypeKind } & Record<string, unknown>;
  const rebuild = (changes: Record<string, unknown>): z.ZodTypeAny => {
    const changed = Object.entries(changes).some(([key, value]) => value !== def[key]);
    return changed ? new (schema.constructor as new (d: unknown) => z.ZodTypeAny)({ ...def, ...changes }) : schema;
  };
  switch (def.typeName) {
    case z.ZodFirstPartyTypeKind.ZodDefault: {
      const withDefault = schema as z.ZodDefault<z.ZodTypeAny>;
      const inner = outputSide(withDefault.removeDefault());
      return inner.openapi({ default: withDefault._def.defaultValue(), ...(schema.description ? { description: schema.description } : {}) });
    }
    case z.ZodFirstPartyTypeKind.ZodObject: {
      const shape = (schema as z.AnyZodObject).shape as z.ZodRawShape;
      const mapped = Object.fromEntries(Object.entries(shape).map(([key, field]) => [key, outputSide(field)]));
      if (Object.keys(shape).every((key) => mapped[key] === shape[key])) return schema;
      return rebuild({ shape: () => mapped, catchall: outputSide(def.catchall as z.ZodTypeAny) });
    }
    case z.ZodFirstPartyTypeKind.ZodArray:
    case z.ZodFirstPartyTypeKind.ZodBranded:
      return rebuild({ type: outputSide(def.type as z.ZodTypeAny) });
    case z.ZodFirstPartyTypeKind.ZodOptional:
    case z.ZodFirstPartyTypeKind.ZodNullable:
    case z.ZodFirstPartyTypeKind.ZodReadonly:
    case z.ZodFirstPartyTypeKind.ZodCatch:
      return rebuild({ innerType: outputSide(def.innerType as z.ZodTypeAny) });
    case z.ZodFirstPartyTypeKind.ZodEffects:
      return rebuild({ schema: outputSide(def.schema as z.ZodTypeAny) });
    case z.ZodFirstPartyTypeKind.ZodRecord:
      return rebuild({ valueType: outputSide(def.valueType as z.ZodTypeAny) });
    case z.ZodFirstPartyTypeKind.ZodUnion:
      return rebuild({ options: mapIfChanged(def.options as z.ZodTypeAny[]) });
    case z.ZodFirstPartyTypeKind.ZodIntersection:
      return rebuild({ left: outputSide(def.left as z.ZodTypeAny), right: outputSide(def.right as z.ZodTypeAny) });
    case z.ZodFirstPartyTypeKind.ZodDiscriminatedUnion: {
      const options = mapIfChanged(def.options as z.ZodTypeAny[]);
      if (options === def.options) return schema;
      const rebuilt = z.discriminatedUnion(def.discriminator as string, options as [z.AnyZodObject, ...z.AnyZodObject[]]);
      return rebuild({ options, optionsMap: rebuilt._def.optionsMap });
    }
    case z.ZodFirstPartyTypeKind.ZodPipeline:
      return outputSide(def.out as z.ZodTypeAny);
    default:
      return schema;
  }
}

function mapIfChanged(schemas: z.ZodTypeAny[]): z.ZodTypeAny[] {
  const mapped = schemas.map(outputSide);
  return mapped.every((schema, i) => schema === schemas[i]) ? schemas : mapped;
}

/**
 * Two touches to what the library generates. It spells an absent keyword as a key whose value is
 * undefined; the document leaves it out. And it marks a nullable enum `nullable` without listing
 * null among the values, which OpenAPI 3.0.3 says leaves null invalid (an enum lists every
 * allowed value), so client generators would reject a null the gateway sends.
 */
function tidy<T>(value: T): T {
  if (Array.isArray(value)) return value.map(tidy) as T;
  if (value === null || typeof value !== 'object') return value;
  const out = Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => [k, tidy(v)])) as Record<string, unknown>;
  if (out.nullable === true && Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
  return out as T;
}
