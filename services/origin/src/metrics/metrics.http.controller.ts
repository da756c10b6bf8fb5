import { ServerResponse } from 'node:http';
import { Controller, Delete, Get, Res, UseGuards } from '@nestjs/common';
import { BearerTokenGuard } from '../auth/bearer-token.guard';
import { OriginMetrics } from './origin-metrics';
import { ServedBytesSnapshot } from './served-bytes-tally';

@Controller()
export class MetricsHttpController {
  constructor(private readonly metrics: OriginMetrics) {}

  /** Prometheus exposition of every origin metric. */
  @Get('metrics')
  async scrape(@Res() res: ServerResponse): Promise<void> {
    const text = await this.metrics.render();
    res.writeHead(200, { 'Content-Type': this.metrics.contentType, 'Content-Length': String(Buffer.byteLength(text)) });
    res.end(text);
  }

  /** Bytes served since start or the last reset: the WAN figure the benchmarks read. */
  @Get('v1/stats/bytes-served')
  bytesServed(): ServedBytesSnapshot {
    return this.metrics.servedSnapshot();
  }

  /** Resets the figures for a lab run; answers with the figures it reset, so that none is lost between a read and a reset. */
  @Delete('v1/stats/bytes-served')
  @UseGuards(BearerTokenGuard)
  resetBytesServed(): ServedBytesSnapshot {
    const snapshot = this.metrics.servedSnapshot();
    this.metrics.resetServed();
    return snapshot;
  }
}
