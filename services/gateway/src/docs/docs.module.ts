import { Module } from '@nestjs/common';
import { ApiDocsService } from './api-docs.service';

@Module({ providers: [ApiDocsService], exports: [ApiDocsService] })
export class DocsModule {}
