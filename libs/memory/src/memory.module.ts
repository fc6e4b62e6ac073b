import { Module } from '@nestjs/common';
import { StreamsModule } from '@marvain/streams';
import { EMBEDDER, FeatureHashingEmbedder } from './embedder';
import { MemoryController } from './memory.controller';
import { MemoryRepository } from './memory.repository';
import { MemoryService } from './memory.service';

@Module({
  imports: [StreamsModule],
  controllers: [MemoryController],
  providers: [MemoryRepository, MemoryService, { provide: EMBEDDER, useFactory: () => new FeatureHashingEmbedder() }],
  exports: [MemoryService],
})
export class MemoryModule {}
