import { Module } from '@nestjs/common';
import { OriginMetrics } from './origin-metrics';
import { ServedBytesHttpController } from './served-bytes.http.controller';

@Module({
  controllers: [ServedBytesHttpController],
  providers: [OriginMetrics],
  exports: [OriginMetrics],
})
export class MetricsModule {}
