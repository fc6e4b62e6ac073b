import { Controller, Get, Headers, Param, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '@marvain/contracts';
import { AgentIdParams, Authenticated, CurrentPrincipal, fieldError } from '@marvain/platform';
import { StreamQuery } from '../realtime.dto';
import { StreamAccess } from '../stream-access.service';
import { SseStreams } from './sse-streams';

@ApiTags('streams')
@ApiBearerAuth()
@Controller('v1/agents/:agent_id/stream')
export class StreamController {
  constructor(
    private readonly access: StreamAccess,
    private readonly streams: SseStreams,
  ) {}

  /**
   * Every check (credential, agent, topics and their scopes, space, resume point) runs before the
   * first byte, so a refusal is an ordinary JSON error; then the response becomes the stream.
   */
  @Get()
  @Authenticated()
  @ApiOperation({
    summary:
      "The agent's stream as Server-Sent Events (id = seq, event = topic); resume with from_seq or Last-Event-ID",
  })
  @ApiOkResponse({ description: 'text/event-stream' })
  async stream(
    @CurrentPrincipal() principal: Principal,
    @Param() params: AgentIdParams,
    @Query() query: StreamQuery,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Headers('authorization') authorization: string | undefined,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const fromSeq =
      query.from_seq !== undefined
        ? Number(query.from_seq)
        : lastEventId !== undefined
          ? resumeAfter(lastEventId)
          : undefined;
    const grant = await this.access.grant(principal, {
      agent_id: params.agent_id,
      ...(query.topics !== undefined ? { topics: query.topics } : {}),
      ...(query.space_id !== undefined ? { space_id: query.space_id } : {}),
      ...(fromSeq !== undefined ? { from_seq: fromSeq } : {}),
    });
    const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1] ?? '';
    await this.streams.serve(principal, token, grant, request, reply);
  }
}

/** `Last-Event-ID` is the seq of the last entry the client received: it resumes after it. */
function resumeAfter(lastEventId: string): number {
  if (!/^(0|[1-9][0-9]{0,15})$/.test(lastEventId.trim())) {
    throw fieldError('last-event-id', 'Last-Event-ID must be the seq of the last event received (a whole number)');
  }
  return Number(lastEventId.trim()) + 1;
}
