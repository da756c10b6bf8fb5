import { INestApplication, Injectable, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { apiComponentSchemas } from '../common/api-schemas';
import { DevicesModule } from '../devices/devices.module';
import { EnrollmentModule } from '../enrollment/enrollment.module';
import { LicenseModule } from '../license/license.module';
import { PackagesModule } from '../packages/packages.module';
import { ProfilesModule } from '../profiles/profiles.module';
import { TasksModule } from '../tasks/tasks.module';

/** Swagger UI at /docs, the OpenAPI document at /docs-json (and /docs-yaml). */
export const DOCS_PATH = 'docs';

/** The modules whose routes make up the public API (health and metrics stay out of it). */
const API_MODULES = [PackagesModule, ProfilesModule, TasksModule, DevicesModule, LicenseModule, EnrollmentModule];

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
        'Packages and their content, agent settings profiles, distribution tasks with per-device status, devices and subnets. ' +
          'Every route needs `Authorization: Bearer <API token>`. Errors are `{ code, message, details? }` with a stable code.',
      )
      .setVersion('1')
      .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'opaque', description: 'An API token configured in the gateway (API_TOKENS)' })
      .build();
    const document = SwaggerModule.createDocument(app, config, { include: API_MODULES });
    document.components = { ...document.components, schemas: { ...document.components?.schemas, ...apiComponentSchemas() } };
    this.document = document;
    return document;
  }

  private current(): OpenAPIObject {
    if (!this.document) throw new Error('the API document is built when the gateway starts listening');
    return this.document;
  }
}
