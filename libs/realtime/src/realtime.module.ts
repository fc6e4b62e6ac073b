import { Module } from '@nestjs/common';
import { IdentityModule } from '@marvain/identity';
import { LoggingModule } from '@marvain/platform';
import { PresenceModule } from '@marvain/presence';
import { LocalWebSocketServer } from './local-websocket.server';
import { RealtimeGateway } from './realtime.gateway';

@Module({
  imports: [IdentityModule, LoggingModule, PresenceModule],
  providers: [RealtimeGateway, LocalWebSocketServer],
  exports: [RealtimeGateway, LocalWebSocketServer],
})
export class RealtimeModule {}
