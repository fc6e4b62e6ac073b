import { Global, Module } from '@nestjs/common';
import { CLOCK, type Clock } from '@marvain/platform';
import { LocalStreamBus, STREAM_PUBLISHER } from '@marvain/streams';
import { CONNECTION_STORE } from './connection-store';
import { MemoryConnectionStore } from './memory-connection-store';

/**
 * The local runtime's connection store and stream publisher (the AWS runtime's are DynamoDB and
 * the API Gateway fan-out, from AwsAdaptersModule and StoredFanoutModule): the hub module imports
 * one set.
 */
@Global()
@Module({
  providers: [
    { provide: CONNECTION_STORE, inject: [CLOCK], useFactory: (clock: Clock) => new MemoryConnectionStore(clock) },
    LocalStreamBus,
    { provide: STREAM_PUBLISHER, useExisting: LocalStreamBus },
  ],
  exports: [CONNECTION_STORE, LocalStreamBus, STREAM_PUBLISHER],
})
export class LocalConnectionsModule {}
