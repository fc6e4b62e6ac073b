import { Global, Module } from '@nestjs/common';
import { IdentityModule } from '@marvain/identity';
import { LoggerFactory, LoggingModule } from '@marvain/platform';
import { STREAM_PUBLISHER } from '@marvain/streams';
import { CONNECTION_PUSH, type ConnectionPush } from './connection-push';
import { CONNECTION_STORE, type ConnectionStore } from './connection-store';
import { StoredFanout } from './stored-fanout';
import { StoredRevocations } from './stored-revocations';

/**
 * The AWS runtime's realtime delivery, through the connection store and push (AwsAdaptersModule's):
 * the stream publisher (fan-out) and the closing of revoked principals' connections.
 */
@Global()
@Module({
  imports: [LoggingModule, IdentityModule],
  providers: [
    {
      provide: STREAM_PUBLISHER,
      inject: [CONNECTION_STORE, CONNECTION_PUSH, LoggerFactory],
      useFactory: (store: ConnectionStore, push: ConnectionPush, logs: LoggerFactory) =>
        new StoredFanout(store, push, logs.forContext('Fanout')),
    },
    StoredRevocations,
  ],
  exports: [STREAM_PUBLISHER],
})
export class StoredFanoutModule {}
