import 'reflect-metadata';
import { AddressInfo } from 'node:net';
import { Server } from 'node:http';
import { Logger } from '@nestjs/common';
import { createOriginApp } from './app.factory';
import { loadOriginConfig, OriginConfigError } from './config/origin.config';

async function bootstrap(): Promise<void> {
  const config = loadOriginConfig();
  const app = await createOriginApp(config);
  app.enableShutdownHooks();
  await app.listen(config.port, config.host);
  const { port } = (app.getHttpServer() as Server).address() as AddressInfo;
  new Logger('Origin').log({ msg: 'origin listening', host: config.host, port, storeDir: config.storeDir, writesNeedToken: config.apiTokens.length > 0 });
}

bootstrap().catch((error: unknown) => {
  // A bad environment is the operator's to fix: say which variable, without a stack trace.
  process.stderr.write(`${error instanceof OriginConfigError ? error.message : (error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
