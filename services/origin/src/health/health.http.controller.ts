import { Controller, Get } from '@nestjs/common';
import { ContentService } from '../content/content.service';

@Controller()
export class HealthHttpController {
  constructor(private readonly content: ContentService) {}

  /** Liveness: the process answers HTTP. */
  @Get('healthz')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Readiness: uploads can be stored. 503 with the reason otherwise. */
  @Get('readyz')
  async ready(): Promise<{ status: 'ready'; checks: { store: 'writable' } }> {
    await this.content.checkStoreWritable();
    return { status: 'ready', checks: { store: 'writable' } };
  }
}
