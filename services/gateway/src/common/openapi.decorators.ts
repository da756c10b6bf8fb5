import { applyDecorators } from '@nestjs/common';
import { ApiBody, ApiParam, ApiQuery, ApiResponse } from '@nestjs/swagger';
import { z } from 'zod';
import { errorBodySchema, idSchema } from '@fleetcast/contracts';
import { schemaOrRef } from './api-schemas';
import { zodToOpenApi, zodToQueryParameters } from './zod-openapi';

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'The request does not match its contract; `details` names each offending field.',
  401: 'Missing or invalid API token.',
  403: "The API token's scope does not cover this route; the message names the scope needed.",
  404: 'No such resource.',
  409: 'The resource is not in a state that allows this.',
  413: 'The body is larger than allowed.',
  422: 'The content does not match what was declared (hash or size).',
  503: 'The service behind this route does not answer.',
};

/** Documents a JSON request body from its contract schema (the input side: defaults may be left out). */
export function ApiContractBody(schema: z.ZodTypeAny): MethodDecorator {
  return ApiBody({ schema: schemaOrRef(schema, 'input') });
}

/** Documents a successful JSON response from its contract schema. */
export function ApiContractResponse(schema: z.ZodTypeAny, status = 200, description = 'OK'): MethodDecorator {
  return ApiResponse({ status, description, schema: schemaOrRef(schema, 'output') });
}

/** Documents each field of a query schema as a query parameter. */
export function ApiContractQuery(schema: z.ZodTypeAny): MethodDecorator {
  return applyDecorators(
    ...zodToQueryParameters(schema).map(({ name, required, schema: parameter, description }) =>
      ApiQuery({ name, required, schema: parameter, ...(description ? { description } : {}) }),
    ),
  );
}

/** Documents an ID path parameter. */
export function ApiIdParam(name = 'id'): MethodDecorator {
  return ApiParam({ name, required: true, schema: zodToOpenApi(idSchema, 'input') });
}

/** Documents error responses, all in the shared `{ code, message, details? }` shape. */
export function ApiErrorResponses(...statuses: number[]): MethodDecorator {
  const schema = schemaOrRef(errorBodySchema, 'output');
  return applyDecorators(...statuses.map((status) => ApiResponse({ status, description: ERROR_DESCRIPTIONS[status] ?? 'Error', schema })));
}
