import { Module } from '@nestjs/common';
import { AuditLogHttpController } from './audit-log.http.controller';
import { AuditLogRepository } from './audit-log.repository';
import { AuditService } from './audit.service';

@Module({
  controllers: [AuditLogHttpController],
  providers: [AuditLogRepository, AuditService],
  exports: [AuditService],
})
export class AuditModule {}
