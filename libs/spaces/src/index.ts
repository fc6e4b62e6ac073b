export * from './spaces.service';
export * from './spaces.module';
