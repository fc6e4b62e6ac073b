import { Module } from '@nestjs/common';
import { AgentStream } from './agent-stream.service';
import { StreamRepository } from './stream.repository';

/**
 * The agent streams. STREAM_PUBLISHER comes from the runtime: the local bus (realtime's local
 * connections module) or the AWS fan-out.
 */
@Module({
  providers: [StreamRepository, AgentStream],
  exports: [AgentStream],
})
export class StreamsModule {}
