export * from './presence.service';
export * from './presence.module';
