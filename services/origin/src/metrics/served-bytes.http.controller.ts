import { Controller, Delete, Get, UseGuards } from '@nestjs/common';
import { BearerTokenGuard } from '../auth/bearer-token.guard';
import { OriginMetrics } from './origin-metrics';
import { ServedBytesSnapshot } from './served-bytes-tally';

/** The WAN figures as JSON, resettable between lab runs; /metrics (the platform's) has the counters. */
@Controller('v1/stats/bytes-served')
export class ServedBytesHttpController {
  constructor(private readonly metrics: OriginMetrics) {}

  /** Bytes served since start or the last reset: the WAN figure the benchmarks read. */
  @Get()
  bytesServed(): ServedBytesSnapshot {
    return this.metrics.servedSnapshot();
  }

  /** Resets the figures for a lab run; answers with the figures it reset, so that none is lost between a read and a reset. */
  @Delete()
  @UseGuards(BearerTokenGuard)
  resetBytesServed(): ServedBytesSnapshot {
    const snapshot = this.metrics.servedSnapshot();
    this.metrics.resetServed();
    return snapshot;
  }
}
