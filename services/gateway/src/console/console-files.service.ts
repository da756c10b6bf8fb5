import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import express, { NextFunction, Request, Response } from 'express';
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ErrorCode } from '@fleetcast/contracts';
import { GATEWAY_CONFIG, GatewayConfig, DEFAULT_CONSOLE_DIR } from '../config/gateway.config';
import { cacheControlOf, CONSOLE_NOT_BUILT_MESSAGE, CONSOLE_PATH, CONSOLE_SECURITY_HEADERS, fallsBackToIndex, REVALIDATE_CACHE } from './console-files';

/**
 * Serves the built web console at `/console`: its files, `index.html` for any page of the
 * application (routed in the browser), each with its cache policy and the console's CSP.
 *
 * Mounted at module init, as the API document is (see ApiDocsService): the service kit hands the
 * app over initialised, with Nest's catch-all 404 already in place behind anything added later.
 * The files are plain static files, outside Nest's router: they need no token (the console asks
 * for one and sends it with each API call), and the API's guard and pipes never see them.
 * Whether the console is built is looked at per request, so a build made while the gateway runs is
 * served without a restart; without one, `/console` answers a 404 that says so and the API is untouched.
 */
@Injectable()
export class ConsoleFilesService implements OnModuleInit {
  readonly dir: string;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(GATEWAY_CONFIG) config: GatewayConfig,
  ) {
    this.dir = config.consoleDir ?? DEFAULT_CONSOLE_DIR;
  }

  onModuleInit(): void {
    const app = this.adapterHost.httpAdapter.getInstance<express.Express>();
    const index = join(this.dir, 'index.html');
    const files = express.static(this.dir, {
      index: false,
      redirect: false,
      dotfiles: 'ignore',
      cacheControl: false,
      setHeaders: (res, path) => res.setHeader('Cache-Control', cacheControlOf(relative(this.dir, path))),
    });
    const notFound = (res: Response, message: string) => res.status(404).json({ code: ErrorCode.NotFound, message });
    app.use(CONSOLE_PATH, (req: Request, res: Response, next: NextFunction) => {
      for (const [name, value] of Object.entries(CONSOLE_SECURITY_HEADERS)) res.setHeader(name, value);
      if (!existsSync(index)) {
        notFound(res, CONSOLE_NOT_BUILT_MESSAGE);
        return;
      }
      files(req, res, (error?: unknown) => {
        if (error) return next(error);
        if (!fallsBackToIndex(req.method, req.path)) return void notFound(res, `no console file at ${CONSOLE_PATH}${req.path}`);
        res.sendFile(index, { cacheControl: false, headers: { 'Cache-Control': REVALIDATE_CACHE } }, (sendError?: Error) => {
          if (sendError && !res.headersSent) next(sendError);
        });
      });
    });
  }
}
