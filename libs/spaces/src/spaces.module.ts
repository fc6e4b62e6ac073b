import { Module } from '@nestjs/common';
import { SpacesRepository } from './spaces.repository';
import { SpacesService } from './spaces.service';

@Module({ providers: [SpacesRepository, SpacesService], exports: [SpacesService] })
export class SpacesModule {}
