export * from './embedder';
export * from './memory.dto';
export * from './memory.service';
export * from './memory.module';
