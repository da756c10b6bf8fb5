import type { SchemaObject } from '@nestjs/swagger';
import { z } from 'zod';

/**
 * Which side of a schema to describe. A field with a default may be left out of a request
 * (`input`) but is always present in a response (`output`); a transform's output has no schema.
 */
export type SchemaSide = 'input' | 'output';

/** A zod type the converter does not know: thrown so that a new kind of contract field fails the build of the document (and its test), not silently documents nothing. */
export class UnsupportedZodTypeError extends Error {
  readonly code = 'GATEWAY.UNSUPPORTED_ZOD_TYPE';
  constructor(typeName: string, path: string) {
    super(`cannot describe zod type ${typeName} at ${path || '(root)'} in OpenAPI`);
    this.name = 'UnsupportedZodTypeError';
  }
}

/**
 * Converts a contract's zod schema into an OpenAPI 3.0 schema object, so that the document is
 * generated from the same schemas that validate requests and replies and cannot drift from them.
 */
export function zodToOpenApi(schema: z.ZodTypeAny, side: SchemaSide = 'output'): SchemaObject {
  return convert(schema, side, '');
}

/** The OpenAPI query parameters of an object schema (each field one parameter). */
export function zodToQueryParameters(schema: z.ZodTypeAny): Array<{ name: string; required: boolean; schema: SchemaObject; description?: string }> {
  const object = zodToOpenApi(schema, 'input');
  return Object.entries(object.properties ?? {}).map(([name, property]) => {
    const { description, ...rest } = property as SchemaObject;
    return { name, required: object.required?.includes(name) ?? false, schema: rest, ...(description ? { description } : {}) };
  });
}

function convert(schema: z.ZodTypeAny, side: SchemaSide, path: string): SchemaObject {
  const result = convertType(schema, side, path);
  if (schema.description && !result.description) result.description = schema.description;
  return result;
}

function convertType(schema: z.ZodTypeAny, side: SchemaSide, path: string): SchemaObject {
  const def = schema._def as { typeName?: string };
  switch (def.typeName) {
    case z.ZodFirstPartyTypeKind.ZodString:
      return stringSchema(schema as z.ZodString);
    case z.ZodFirstPartyTypeKind.ZodNumber:
      return numberSchema(schema as z.ZodNumber);
    case z.ZodFirstPartyTypeKind.ZodBigInt:
      return { type: 'integer', format: 'int64' };
    case z.ZodFirstPartyTypeKind.ZodBoolean:
      return { type: 'boolean' };
    case z.ZodFirstPartyTypeKind.ZodDate:
      return { type: 'string', format: 'date-time' };
    case z.ZodFirstPartyTypeKind.ZodNull:
      return { nullable: true, enum: [null] };
    case z.ZodFirstPartyTypeKind.ZodAny:
    case z.ZodFirstPartyTypeKind.ZodUnknown:
      return {};
    case z.ZodFirstPartyTypeKind.ZodNever:
      return { not: {} };
    case z.ZodFirstPartyTypeKind.ZodLiteral:
      return literalSchema((schema as z.ZodLiteral<unknown>).value);
    case z.ZodFirstPartyTypeKind.ZodEnum:
      return { type: 'string', enum: [...(schema as z.ZodEnum<[string, ...string[]]>).options] };
    case z.ZodFirstPartyTypeKind.ZodNativeEnum: {
      // A numeric TypeScript enum also maps each value back to its name; those reverse keys are not values.
      const values = nativeEnumValues((schema as z.ZodNativeEnum<z.EnumLike>).enum);
      return { type: values.every((v) => typeof v === 'number') ? 'number' : 'string', enum: values };
    }
    case z.ZodFirstPartyTypeKind.ZodArray:
      return arraySchema(schema as z.ZodArray<z.ZodTypeAny>, side, path);
    case z.ZodFirstPartyTypeKind.ZodSet: {
      const set = schema as z.ZodSet<z.ZodTypeAny>;
      return { type: 'array', uniqueItems: true, items: convert(set._def.valueType, side, `${path}[]`) };
    }
    case z.ZodFirstPartyTypeKind.ZodTuple: {
      const items = (schema as z.ZodTuple)._def.items as z.ZodTypeAny[];
      return {
        type: 'array',
        minItems: items.length,
        maxItems: items.length,
        items: items.length === 0 ? {} : { anyOf: items.map((item, i) => convert(item, side, `${path}[${i}]`)) },
      };
    }
    case z.ZodFirstPartyTypeKind.ZodObject:
      return objectSchema(schema as z.AnyZodObject, side, path);
    case z.ZodFirstPartyTypeKind.ZodRecord:
      return recordSchema(schema as z.ZodRecord, side, path);
    case z.ZodFirstPartyTypeKind.ZodMap:
      return { type: 'object', additionalProperties: convert((schema as z.ZodMap)._def.valueType, side, `${path}{}`) };
    case z.ZodFirstPartyTypeKind.ZodUnion: {
      const options = (schema as z.ZodUnion<[z.ZodTypeAny, ...z.ZodTypeAny[]]>).options;
      return unionSchema(options.map((option, i) => convert(option, side, `${path}|${i}`)));
    }
    case z.ZodFirstPartyTypeKind.ZodDiscriminatedUnion: {
      const union = schema as z.ZodDiscriminatedUnion<string, z.AnyZodObject[]>;
      return {
        oneOf: union.options.map((option, i) => convert(option, side, `${path}|${i}`)),
        discriminator: { propertyName: union.discriminator },
      };
    }
    case z.ZodFirstPartyTypeKind.ZodIntersection: {
      const { left, right } = (schema as z.ZodIntersection<z.ZodTypeAny, z.ZodTypeAny>)._def;
      return { allOf: [convert(left, side, path), convert(right, side, path)] };
    }
    case z.ZodFirstPartyTypeKind.ZodOptional:
      return convert((schema as z.ZodOptional<z.ZodTypeAny>).unwrap(), side, path);
    case z.ZodFirstPartyTypeKind.ZodNullable:
      return nullable(convert((schema as z.ZodNullable<z.ZodTypeAny>).unwrap(), side, path));
    case z.ZodFirstPartyTypeKind.ZodDefault: {
      const withDefault = schema as z.ZodDefault<z.ZodTypeAny>;
      return { ...convert(withDefault.removeDefault(), side, path), default: withDefault._def.defaultValue() };
    }
    case z.ZodFirstPartyTypeKind.ZodEffects: {
      const effects = schema as z.ZodEffects<z.ZodTypeAny>;
      // A refinement or preprocess leaves the shape alone; a transform's output is whatever the function returns.
      if (effects._def.effect.type === 'transform' && side === 'output') return {};
      return convert(effects.innerType(), side, path);
    }
    case z.ZodFirstPartyTypeKind.ZodPipeline: {
      const { in: input, out } = (schema as z.ZodPipeline<z.ZodTypeAny, z.ZodTypeAny>)._def;
      return convert(side === 'input' ? input : out, side, path);
    }
    case z.ZodFirstPartyTypeKind.ZodBranded:
      return convert((schema as z.ZodBranded<z.ZodTypeAny, string>).unwrap(), side, path);
    case z.ZodFirstPartyTypeKind.ZodReadonly:
      return convert((schema as z.ZodReadonly<z.ZodTypeAny>)._def.innerType, side, path);
    case z.ZodFirstPartyTypeKind.ZodCatch:
      return convert((schema as z.ZodCatch<z.ZodTypeAny>).removeCatch(), side, path);
    case z.ZodFirstPartyTypeKind.ZodLazy:
      return convert((schema as z.ZodLazy<z.ZodTypeAny>).schema, side, path);
    default:
      throw new UnsupportedZodTypeError(def.typeName ?? schema.constructor.name, path);
  }
}

function stringSchema(schema: z.ZodString): SchemaObject {
  const out: SchemaObject = { type: 'string' };
  const patterns: string[] = [];
  for (const check of schema._def.checks) {
    switch (check.kind) {
      case 'min':
        out.minLength = check.value;
        break;
      case 'max':
        out.maxLength = check.value;
        break;
      case 'length':
        out.minLength = check.value;
        out.maxLength = check.value;
        break;
      case 'regex':
        patterns.push(check.regex.source);
        break;
      case 'startsWith':
        patterns.push(`^${escapeRegex(check.value)}`);
        break;
      case 'endsWith':
        patterns.push(`${escapeRegex(check.value)}$`);
        break;
      case 'includes':
        patterns.push(escapeRegex(check.value));
        break;
      case 'email':
        out.format = 'email';
        break;
      case 'url':
        out.format = 'uri';
        break;
      case 'uuid':
        out.format = 'uuid';
        break;
      case 'datetime':
        out.format = 'date-time';
        break;
      case 'date':
        out.format = 'date';
        break;
      case 'time':
        out.format = 'time';
        break;
      case 'duration':
        out.format = 'duration';
        break;
      case 'base64':
        out.format = 'byte';
        break;
      case 'ip':
        // OpenAPI has a format for each family, none for "either".
        if (check.version === 'v4') out.format = 'ipv4';
        else if (check.version === 'v6') out.format = 'ipv6';
        else {
          out.format = 'ip';
          out.description = 'an IPv4 or IPv6 address';
        }
        break;
      case 'cidr':
        out.format = 'cidr';
        break;
      default:
        // cuid, ulid, emoji, trim, case changes: no OpenAPI counterpart; the type stays string.
        break;
    }
  }
  if (patterns.length === 1) out.pattern = patterns[0];
  // OpenAPI allows one pattern per schema: several are combined as allOf.
  if (patterns.length > 1) out.allOf = patterns.map((pattern) => ({ type: 'string', pattern }));
  return out;
}

function numberSchema(schema: z.ZodNumber): SchemaObject {
  const out: SchemaObject = { type: schema.isInt ? 'integer' : 'number' };
  for (const check of schema._def.checks) {
    if (check.kind === 'min') {
      out.minimum = check.value;
      if (!check.inclusive) out.exclusiveMinimum = true;
    } else if (check.kind === 'max') {
      out.maximum = check.value;
      if (!check.inclusive) out.exclusiveMaximum = true;
    } else if (check.kind === 'multipleOf') {
      out.multipleOf = check.value;
    }
  }
  return out;
}

function literalSchema(value: unknown): SchemaObject {
  if (value === null) return { nullable: true, enum: [null] };
  const type = typeof value;
  if (type === 'string' || type === 'boolean') return { type, enum: [value] };
  if (type === 'number') return { type: Number.isInteger(value) ? 'integer' : 'number', enum: [value] };
  return { enum: [value] };
}

function arraySchema(schema: z.ZodArray<z.ZodTypeAny>, side: SchemaSide, path: string): SchemaObject {
  const out: SchemaObject = { type: 'array', items: convert(schema.element, side, `${path}[]`) };
  const { minLength, maxLength, exactLength } = schema._def;
  if (minLength) out.minItems = minLength.value;
  if (maxLength) out.maxItems = maxLength.value;
  if (exactLength) {
    out.minItems = exactLength.value;
    out.maxItems = exactLength.value;
  }
  return out;
}

function objectSchema(schema: z.AnyZodObject, side: SchemaSide, path: string): SchemaObject {
  const properties: Record<string, SchemaObject> = {};
  const required: string[] = [];
  for (const [key, field] of Object.entries(schema.shape as z.ZodRawShape)) {
    properties[key] = convert(field, side, path ? `${path}.${key}` : key);
    if (isRequired(field, side)) required.push(key);
  }
  const out: SchemaObject = { type: 'object', properties };
  if (required.length > 0) out.required = required;
  const catchall = schema._def.catchall as z.ZodTypeAny;
  if (!(catchall instanceof z.ZodNever)) out.additionalProperties = convert(catchall, side, `${path}.*`);
  else if (schema._def.unknownKeys === 'strict') out.additionalProperties = false;
  return out;
}

function recordSchema(schema: z.ZodRecord, side: SchemaSide, path: string): SchemaObject {
  const value = convert(schema.valueSchema, side, `${path}{}`);
  const keys = unwrapForKeys(schema.keySchema);
  if (keys instanceof z.ZodEnum) {
    // A record keyed by an enum: name the keys so that a client sees which ones can appear.
    const properties = Object.fromEntries((keys.options as string[]).map((key) => [key, value]));
    return { type: 'object', properties, additionalProperties: false };
  }
  return { type: 'object', additionalProperties: value };
}

function unionSchema(options: SchemaObject[]): SchemaObject {
  // `x | null` is how zod spells nullable in a union; OpenAPI 3.0 says it with `nullable`.
  const isNull = (o: SchemaObject) => o.nullable === true && o.enum?.length === 1 && o.enum[0] === null;
  const rest = options.filter((o) => !isNull(o));
  if (rest.length === options.length) return { anyOf: options };
  if (rest.length === 1) return nullable(rest[0]);
  return { anyOf: rest, nullable: true };
}

function nullable(schema: SchemaObject): SchemaObject {
  const out: SchemaObject = { ...schema, nullable: true };
  // An enum lists every allowed value; null must be one of them for `nullable` to take effect.
  if (out.enum && !out.enum.includes(null)) out.enum = [...out.enum, null];
  return out;
}

/** Whether an object field must be present on the given side. */
function isRequired(field: z.ZodTypeAny, side: SchemaSide): boolean {
  if (!field.isOptional()) return true;
  // A field that may be left out of a request is still always present once its default filled it in.
  return side === 'output' && hasDefault(field);
}

function hasDefault(field: z.ZodTypeAny): boolean {
  if (field instanceof z.ZodDefault) return true;
  if (field instanceof z.ZodNullable || field instanceof z.ZodBranded) return hasDefault(field.unwrap());
  if (field instanceof z.ZodEffects) return hasDefault(field.innerType());
  if (field instanceof z.ZodReadonly) return hasDefault(field._def.innerType);
  return false;
}

function nativeEnumValues(values: z.EnumLike): Array<string | number> {
  return Object.keys(values)
    .filter((key) => typeof values[values[key] as string] !== 'number')
    .map((key) => values[key] as string | number);
}

function unwrapForKeys(schema: z.ZodTypeAny): z.ZodTypeAny {
  if (schema instanceof z.ZodEffects) return unwrapForKeys(schema.innerType());
  if (schema instanceof z.ZodBranded) return unwrapForKeys(schema.unwrap());
  return schema;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
