import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';
import type { ApiScope } from '@fleetcast/contracts';

/** Metadata key of a route's declared scope, read by the API token guard. */
export const REQUIRED_SCOPE = 'fleetcast:required-scope';

/** OpenAPI extension that names each operation's scope in the API document. */
export const SCOPE_EXTENSION = 'x-required-scope';

/**
 * Declares the API token scope a route (on a method) or every route of a controller (on the class)
 * needs; a method's declaration wins over its class's. Without one a route needs `read-only` for
 * GET and `operator` for anything else (see `requiredScope`).
 */
export function RequiresScope(scope: ApiScope): ClassDecorator & MethodDecorator {
  return applyDecorators(SetMetadata(REQUIRED_SCOPE, scope), ApiExtension(SCOPE_EXTENSION, scope));
}
