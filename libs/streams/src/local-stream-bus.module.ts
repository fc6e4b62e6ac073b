import { Global, Module } from '@nestjs/common';
import { LocalStreamBus, STREAM_PUBLISHER } from './stream-publisher';

/**
 * The in-process bus as the stream publisher, for a process with no connection transport of its
 * own: the operator CLI working on the database (feature specs use TestStreamPublisherModule from
 * `@marvain/streams/testing`). Committed entries stay in the stream table either way; a running
 * hub's subscribers catch up from there.
 */
@Global()
@Module({
  providers: [LocalStreamBus, { provide: STREAM_PUBLISHER, useExisting: LocalStreamBus }],
  exports: [LocalStreamBus, STREAM_PUBLISHER],
})
export class LocalStreamBusModule {}
