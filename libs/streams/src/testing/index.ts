import { Global, Module } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import type { StreamEntry } from '@marvain/contracts';
import { LocalStreamBus, STREAM_PUBLISHER } from '../stream-publisher';

/**
 * The local bus as STREAM_PUBLISHER, for feature specs that run without a runtime module
 * (the hub gets its publisher from realtime's local connections module or the AWS fan-out).
 */
@Global()
@Module({
  providers: [LocalStreamBus, { provide: STREAM_PUBLISHER, useExisting: LocalStreamBus }],
  exports: [LocalStreamBus, STREAM_PUBLISHER],
})
export class TestStreamPublisherModule {}

/** What the bus published since `recordPublished` was called, in publish order. */
export interface PublishedRecording {
  readonly entries: StreamEntry[];
  stop(): void;
}

/** Starts recording what the module's LocalStreamBus publishes (TestStreamPublisherModule's). */
export function recordPublished(moduleRef: TestingModule): PublishedRecording {
  const entries: StreamEntry[] = [];
  const stop = moduleRef.get(LocalStreamBus, { strict: false }).listen((published) => entries.push(...published));
  return { entries, stop };
}
