import { Module } from '@nestjs/common';
import { LoggingModule } from '@marvain/platform';
import { AuditController } from './audit.controller';
import { AuditFlusher } from './audit-flusher';
import { AuditRepository } from './audit.repository';
import { AuditService } from './audit.service';

@Module({
  imports: [LoggingModule],
  controllers: [AuditController],
  providers: [AuditRepository, AuditService, AuditFlusher],
  exports: [AuditService],
})
export class AuditModule {}
