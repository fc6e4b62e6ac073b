import { Global, Module } from '@nestjs/common';
import { LoggerFactory, LoggingModule } from '@marvain/platform';
import { STREAM_PUBLISHER } from '@marvain/streams';
import { CONNECTION_PUSH, type ConnectionPush } from './connection-push';
import { CONNECTION_STORE, type ConnectionStore } from './connection-store';
import { StoredFanout } from './stored-fanout';

/** The AWS runtime's stream publisher: fan-out through the connection store and push (AwsAdaptersModule's). */
@Global()
@Module({
  imports: [LoggingModule],
  providers: [
    {
      provide: STREAM_PUBLISHER,
      inject: [CONNECTION_STORE, CONNECTION_PUSH, LoggerFactory],
      useFactory: (store: ConnectionStore, push: ConnectionPush, logs: LoggerFactory) =>
        new StoredFanout(store, push, logs.forContext('Fanout')),
    },
  ],
  exports: [STREAM_PUBLISHER],
})
export class StoredFanoutModule {}
