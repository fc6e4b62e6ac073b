import { Module } from '@nestjs/common';
import { SpacesModule } from '@marvain/spaces';
import { StreamsModule } from '@marvain/streams';
import { EventsController } from './events.controller';
import { EventsRepository } from './events.repository';
import { EventsService } from './events.service';

@Module({
  imports: [SpacesModule, StreamsModule],
  controllers: [EventsController],
  providers: [EventsRepository, EventsService],
  exports: [EventsService],
})
export class EventsModule {}
