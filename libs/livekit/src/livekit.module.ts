import { Module } from '@nestjs/common';
import { AuditModule } from '@marvain/audit';
import { LoggingModule } from '@marvain/platform';
import { PresenceModule } from '@marvain/presence';
import { SpacesModule } from '@marvain/spaces';
import { LivekitController } from './livekit.controller';
import { LivekitRepository } from './livekit.repository';
import { LivekitService } from './livekit.service';

@Module({
  imports: [LoggingModule, AuditModule, SpacesModule, PresenceModule],
  controllers: [LivekitController],
  providers: [LivekitRepository, LivekitService],
  exports: [LivekitService],
})
export class LivekitModule {}
