export * from './errors';
export * from './scopes';
export * from './domain';
export * from './principal';
export * from './ws';
export * from './version';
export * from './stream';
export * from './commands';
