import { Module } from '@nestjs/common';
import { LoggingModule } from '@marvain/platform';
import { ActionsModule } from '@marvain/actions';
import { AuditModule } from '@marvain/audit';
import { EventsModule } from '@marvain/events';
import { MemoryModule } from '@marvain/memory';
import { PLANNER_MODEL } from './planner-model';
import { PlannerConsumer } from './planner.consumer';
import { PlannerRepository } from './planner.repository';
import { PlannerService } from './planner.service';
import { RulesPlannerModel } from './rules-planner.model';

@Module({
  imports: [ActionsModule, AuditModule, EventsModule, LoggingModule, MemoryModule],
  providers: [
    PlannerRepository,
    PlannerService,
    PlannerConsumer,
    { provide: PLANNER_MODEL, useFactory: () => new RulesPlannerModel() },
  ],
  exports: [PlannerService, PlannerConsumer],
})
export class PlannerModule {}
