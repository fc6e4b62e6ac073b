import { Module } from '@nestjs/common';
import { EMBEDDER, FeatureHashingEmbedder } from './embedder';
import { MemoryController } from './memory.controller';
import { MemoryRepository } from './memory.repository';
import { MemoryService } from './memory.service';

@Module({
  controllers: [MemoryController],
  providers: [MemoryRepository, MemoryService, { provide: EMBEDDER, useFactory: () => new FeatureHashingEmbedder() }],
  exports: [MemoryService],
})
export class MemoryModule {}
