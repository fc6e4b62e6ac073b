import { Module } from '@nestjs/common';
import { AuditModule } from '@marvain/audit';
import { ConsentController } from './consent.controller';
import { ConsentRepository } from './consent.repository';
import { ConsentService } from './consent.service';
import { PeopleController } from './people.controller';
import { PeopleRepository } from './people.repository';
import { PeopleService } from './people.service';
import { SpacesController } from './spaces.controller';
import { SpacesRepository } from './spaces.repository';
import { SpacesService } from './spaces.service';

@Module({
  imports: [AuditModule],
  controllers: [SpacesController, PeopleController, ConsentController],
  providers: [SpacesRepository, SpacesService, PeopleRepository, PeopleService, ConsentRepository, ConsentService],
  exports: [SpacesService, PeopleService, ConsentService],
})
export class SpacesModule {}
