import { ArgumentMetadata, Injectable, PipeTransform } from '@nestjs/common';
import { z } from 'zod';
import { ErrorCode, FleetcastError, parseOrThrow } from '@fleetcast/contracts';

/**
 * Validates a request body, query string or path parameter against a contract schema and returns
 * the parsed value (defaults applied). A failure is CONTRACT.INVALID naming each offending field,
 * which the shared HTTP filter answers with 400.
 */
@Injectable()
export class ZodValidationPipe<T extends z.ZodTypeAny> implements PipeTransform<unknown, z.output<T>> {
  constructor(private readonly schema: T) {}

  transform(value: unknown, metadata: ArgumentMetadata): z.output<T> {
    switch (metadata.type) {
      case 'body':
        if (value === undefined) {
          // Express leaves the body undefined when there is none (or it was not JSON): say so plainly.
          throw new FleetcastError(ErrorCode.ContractInvalid, 'request body is missing: send a JSON object with Content-Type: application/json', [
            { path: '(root)', message: 'Required' },
          ]);
        }
        return parseOrThrow(this.schema, value, 'request body');
      case 'query':
        return parseOrThrow(this.schema, coerceQuery(this.schema, value), 'query string');
      default: {
        // A single named parameter (`@Param('id', pipe)`): parse it under its name so the error says "id: ...".
        if (metadata.data) {
          const parsed = parseOrThrow(z.object({ [metadata.data]: this.schema }), { [metadata.data]: value }, `path parameter`);
          return parsed[metadata.data] as z.output<T>;
        }
        return parseOrThrow(this.schema, value, 'path parameters');
      }
    }
  }
}

/**
 * Query strings carry only strings; turn the ones that stand for a number or boolean in the
 * schema into that type. A value that does not look like one stays a string, so the schema's
 * error names the field ("limit: Expected number, received string") instead of a NaN.
 */
export function coerceQuery(schema: z.ZodTypeAny, query: unknown): unknown {
  const shape = objectShape(schema);
  if (!shape || query === null || typeof query !== 'object') return query;
  const out: Record<string, unknown> = { ...(query as Record<string, unknown>) };
  for (const [key, raw] of Object.entries(out)) {
    const field = shape[key];
    if (!field || typeof raw !== 'string') continue;
    const kind = scalarKind(field);
    if (kind === 'number' && /^-?\d+(\.\d+)?$/.test(raw.trim())) out[key] = Number(raw.trim());
    if (kind === 'boolean' && (raw === 'true' || raw === 'false')) out[key] = raw === 'true';
  }
  return out;
}

function objectShape(schema: z.ZodTypeAny): z.ZodRawShape | undefined {
  const inner = unwrap(schema);
  return inner instanceof z.ZodObject ? (inner.shape as z.ZodRawShape) : undefined;
}

function scalarKind(schema: z.ZodTypeAny): 'number' | 'boolean' | 'other' {
  const inner = unwrap(schema);
  if (inner instanceof z.ZodNumber) return 'number';
  if (inner instanceof z.ZodBoolean) return 'boolean';
  return 'other';
}

/** Strips the wrappers that do not change what a value is: optional, default, nullable, refinements. */
function unwrap(schema: z.ZodTypeAny): z.ZodTypeAny {
  let current = schema;
  for (;;) {
    if (current instanceof z.ZodOptional || current instanceof z.ZodNullable) current = current.unwrap();
    else if (current instanceof z.ZodDefault) current = current.removeDefault();
    else if (current instanceof z.ZodEffects) current = current.innerType();
    else return current;
  }
}
