import { Module } from '@nestjs/common';
import { ActionsModule } from '@marvain/actions';
import { CommandsModule } from '@marvain/commands';
import { EventsModule } from '@marvain/events';
import { IdentityModule } from '@marvain/identity';
import { LoggingModule } from '@marvain/platform';
import { PresenceModule } from '@marvain/presence';
import { SpacesModule } from '@marvain/spaces';
import { StreamsModule } from '@marvain/streams';
import { LocalDelivery } from './delivery/local-delivery';
import { DeviceCommandLink } from './device-command-link';
import { LocalWebSocketServer } from './local-websocket.server';
import { ProtocolVerbs } from './protocol-verbs';
import { RealtimeGateway } from './realtime.gateway';
import { SseStreams } from './sse/sse-streams';
import { StreamController } from './sse/stream.controller';
import { StreamAccess } from './stream-access.service';

@Module({
  imports: [
    ActionsModule,
    CommandsModule,
    EventsModule,
    IdentityModule,
    LoggingModule,
    PresenceModule,
    SpacesModule,
    StreamsModule,
  ],
  controllers: [StreamController],
  providers: [
    RealtimeGateway,
    ProtocolVerbs,
    StreamAccess,
    LocalDelivery,
    LocalWebSocketServer,
    SseStreams,
    DeviceCommandLink,
  ],
  exports: [RealtimeGateway, StreamAccess, LocalDelivery, LocalWebSocketServer, SseStreams],
})
export class RealtimeModule {}
