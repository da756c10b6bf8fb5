import { INestApplication, Injectable, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { ApiScope, errorBodySchema } from '@fleetcast/contracts';
import { AuditModule } from '../audit/audit.module';
import { SCOPE_EXTENSION } from '../auth/requires-scope.decorator';
import { ConsoleModule } from '../console/console.module';
import { requiredScope } from '../auth/scopes';
import { apiComponentSchemas, schemaOrRef } from '../common/api-schemas';
import { DevicesModule } from '../devices/devices.module';
import { EnrollmentModule } from '../enrollment/enrollment.module';
import { EventsModule } from '../events/events.module';
import { LicenseModule } from '../license/license.module';
import { PackagesModule } from '../packages/packages.module';
import { PlansModule } from '../plans/plans.module';
import { ProfilesModule } from '../profiles/profiles.module';
import { ReportsModule } from '../reports/reports.module';
import { TasksModule } from '../tasks/tasks.module';
import { TopologyModule } from '../topology/topology.module';

/** Swagger UI at /docs, the OpenAPI document at /docs-json (and /docs-yaml). */
export const DOCS_PATH = 'docs';

/** The modules whose routes make up the public API (health and metrics stay out of it). */
const API_MODULES = [PackagesModule, ProfilesModule, TasksModule, EventsModule, DevicesModule, LicenseModule, EnrollmentModule, TopologyModule, AuditModule, ConsoleModule, PlansModule, ReportsModule];

/**
 * Serves the OpenAPI document of the public API.
 *
 * The routes go in at module init, not after the app is created as usual: the service kit hands
 * the app over already initialised, and at initialisation Nest mounts its catch-all 404 handler,
 * which would hide any route added later. The document itself can only be built from the finished
 * app, so `build` fills it in before the server accepts its first request.
 */
@Injectable()
export class ApiDocsService implements OnModuleInit {
  private document?: OpenAPIObject;

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    const adapter = this.adapterHost.httpAdapter;
    // SwaggerModule.setup only needs the app for its HTTP adapter and static file serving.
    const host = {
      getHttpAdapter: () => adapter,
      useStaticAssets: (path: string, options: object) => (adapter as unknown as { useStaticAssets(p: string, o: object): void }).useStaticAssets(path, options),
    } as unknown as INestApplication;
    SwaggerModule.setup(DOCS_PATH, host, () => this.current(), {
      customSiteTitle: 'Fleetcast API',
      swaggerOptions: { persistAuthorization: true },
    });
  }

  /** Builds the document from the finished app's controllers. */
  build(app: INestApplication): OpenAPIObject {
    const config = new DocumentBuilder()
      .setTitle('Fleetcast API')
      .setDescription(
        'Packages and their content, agent settings profiles, distribution tasks with per-device status, devices and subnets, the network topology, what-if plans and the WAN savings report. ' +
          'Every route but enrollment needs `Authorization: Bearer <API token>` with a scope that covers it (`x-required-scope`: ' +
          '`read-only` reads, `operator` makes the day-to-day changes, `admin` everything; a token whose scope falls short gets 403 AUTH.FORBIDDEN). ' +
          'Every request that changes state is recorded in the audit log (`GET /v1/audit-log`). Errors are `{ code, message, details? }` with a stable code.',
      )
      .setVersion('1')
      .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'opaque', description: 'An API token configured in the gateway (API_TOKENS)' })
      .build();
    const document = SwaggerModule.createDocument(app, config, { include: API_MODULES });
    document.components = { ...document.components, schemas: { ...document.components?.schemas, ...apiComponentSchemas() } };
    documentScopes(document);
    this.document = document;
    return document;
  }

  private current(): OpenAPIObject {
    if (!this.document) throw new Error('the API document is built when the gateway starts listening');
    return this.document;
  }
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/**
 * Names the scope of every operation that takes an API token (`x-required-scope`) and documents
 * its 403. A controller's `@RequiresScope` puts the extension in; the routes that declare none get
 * the default by method here, the rule the guard applies, so the document cannot drift from it.
 */
export function documentScopes(document: OpenAPIObject): void {
  for (const item of Object.values(document.paths)) {
    for (const method of HTTP_METHODS) {
      const operation = item[method] as (NonNullable<(typeof item)[typeof method]> & { [SCOPE_EXTENSION]?: ApiScope }) | undefined;
      if (!operation?.security?.some((requirement) => 'bearer' in requirement)) continue;
      const scope = requiredScope(method, operation[SCOPE_EXTENSION]);
      operation[SCOPE_EXTENSION] = scope;
      if (scope !== 'read-only' && !operation.responses['403']) {
        operation.responses['403'] = {
          description: `The API token's scope falls short: this route needs ${scope} (AUTH.FORBIDDEN).`,
          content: { 'application/json': { schema: schemaOrRef(errorBodySchema, 'output') } },
        };
      }
    }
  }
}
