export * from './realtime.gateway';
export * from './local-websocket.server';
export * from './realtime.module';
export * from './websocket-limits';
