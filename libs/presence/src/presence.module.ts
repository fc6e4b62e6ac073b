import { Module } from '@nestjs/common';
import { LoggingModule } from '@marvain/platform';
import { SpacesModule } from '@marvain/spaces';
import { StreamsModule } from '@marvain/streams';
import { MaintenanceService, MaintenanceWorker } from './maintenance';
import { PresenceController } from './presence.controller';
import { PresenceRepository } from './presence.repository';
import { PresenceService } from './presence.service';

@Module({
  imports: [LoggingModule, SpacesModule, StreamsModule],
  controllers: [PresenceController],
  providers: [PresenceRepository, PresenceService, MaintenanceService, MaintenanceWorker],
  exports: [PresenceService, MaintenanceService],
})
export class PresenceModule {}
