import { Module } from '@nestjs/common';
import { MetricsHttpController } from './metrics.http.controller';
import { OriginMetrics } from './origin-metrics';

@Module({
  controllers: [MetricsHttpController],
  providers: [OriginMetrics],
  exports: [OriginMetrics],
})
export class MetricsModule {}
