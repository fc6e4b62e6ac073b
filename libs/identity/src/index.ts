export * from './device-tokens';
export * from './user-tokens';
export * from './principal-resolver.service';
export * from './auth.guard';
export * from './bootstrap.service';
export * from './identity.module';
export * from './access.service';
