import { Module } from '@nestjs/common';
import { LoggingModule } from '@marvain/platform';
import { SpacesModule } from '@marvain/spaces';
import { StreamsModule } from '@marvain/streams';
import {
  DEFAULT_MAINTENANCE_INTERVAL_MS,
  MAINTENANCE_INTERVAL_MS,
  MaintenanceService,
  MaintenanceTasks,
  MaintenanceWorker,
} from './maintenance';
import { PresenceController } from './presence.controller';
import { PresenceRepository } from './presence.repository';
import { PresenceService } from './presence.service';

@Module({
  imports: [LoggingModule, SpacesModule, StreamsModule],
  controllers: [PresenceController],
  providers: [
    PresenceRepository,
    PresenceService,
    MaintenanceService,
    MaintenanceTasks,
    MaintenanceWorker,
    { provide: MAINTENANCE_INTERVAL_MS, useValue: DEFAULT_MAINTENANCE_INTERVAL_MS },
  ],
  exports: [PresenceService, MaintenanceService, MaintenanceTasks],
})
export class PresenceModule {}
