export * from './aws-adapters';
export * from './aws-adapters.module';
export * from './sqs-message-queue';
export * from './s3-audit-sink';
export * from './dynamo-connection-store';
export * from './api-gateway-push';
export * from './livekit-secret';
