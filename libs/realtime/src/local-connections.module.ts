import { Global, Module } from '@nestjs/common';
import { CLOCK, type Clock } from '@marvain/platform';
import { CONNECTION_STORE } from './connection-store';
import { MemoryConnectionStore } from './memory-connection-store';

/**
 * The local runtime's connection store (the AWS runtime's is DynamoDB, from AwsAdaptersModule):
 * the hub module imports one of the two.
 */
@Global()
@Module({
  providers: [
    { provide: CONNECTION_STORE, inject: [CLOCK], useFactory: (clock: Clock) => new MemoryConnectionStore(clock) },
  ],
  exports: [CONNECTION_STORE],
})
export class LocalConnectionsModule {}
