import { Module } from '@nestjs/common';
import { ConsoleFilesService } from './console-files.service';
import { WhoamiHttpController } from './whoami.http.controller';

/** The web console: its files at `/console`, and `GET /v1/whoami`, with which it learns a token's scope. */
@Module({ controllers: [WhoamiHttpController], providers: [ConsoleFilesService] })
export class ConsoleModule {}
