export * from './stream-publisher';
export * from './stream.repository';
export * from './agent-stream.service';
export * from './streams.module';
export * from './local-stream-bus.module';
