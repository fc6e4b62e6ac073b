export * from './livekit.module';
export * from './livekit.service';
export { LIVEKIT_WEBHOOK_PATH } from './livekit.controller';
export { LivekitTokenView, LivekitWebhookAck } from './livekit.dto';
export * from './livekit-rooms';
export * from './token-rate-limit';
