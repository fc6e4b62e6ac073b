export * from './events.dto';
export * from './events.service';
export * from './events.module';
