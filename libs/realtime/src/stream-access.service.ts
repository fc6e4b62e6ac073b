import { Injectable } from '@nestjs/common';
import {
  DomainError,
  ErrorCode,
  hasScope,
  scopesFor,
  STREAM_TOPICS,
  TOPIC_SCOPES,
  type Principal,
  type StreamTopic,
} from '@marvain/contracts';
import { SpacesService } from '@marvain/spaces';
import { AgentStream } from '@marvain/streams';
import type { StoredSubscription } from './connection-store';
import type { StreamRequest } from './realtime.dto';

/** A granted stream request: what to hear, the head when it was granted, and the first seq to deliver. */
export interface StreamGrant {
  subscription: StoredSubscription;
  /** The agent's last committed seq when the request was granted. */
  lastSeq: number;
  /** The client's from_seq, else lastSeq + 1 (only what commits from now on). */
  fromSeq: number;
}

/**
 * Who may hear which agent stream: the one check behind WebSocket `subscribe` and the SSE route.
 * Another agent's id answers exactly like a missing agent.
 */
@Injectable()
export class StreamAccess {
  constructor(
    private readonly spaces: SpacesService,
    private readonly stream: AgentStream,
  ) {}

  async grant(principal: Principal, request: StreamRequest): Promise<StreamGrant> {
    const agentId = request.agent_id;
    if (!principal.agents.some((agent) => agent.agent_id === agentId)) {
      throw DomainError.notFound('agent', agentId);
    }
    const topics = this.topics(principal, agentId, request.topics);
    let spaceId: string | null = null;
    const [firstTopic] = topics;
    if (request.space_id !== undefined && firstTopic !== undefined) {
      // The principal holds this topic's scope on the agent, so only a space of another agent fails.
      const space = await this.spaces.getForPrincipal(principal, request.space_id, TOPIC_SCOPES[firstTopic]);
      if (space.agent_id !== agentId) {
        throw DomainError.notFound('space', request.space_id);
      }
      spaceId = space.space_id;
    }
    const lastSeq = await this.stream.head(agentId);
    if (request.from_seq !== undefined) {
      await this.stream.assertAvailable(agentId, request.from_seq);
    }
    return {
      subscription: { agent_id: agentId, space_id: spaceId, topics },
      lastSeq,
      fromSeq: request.from_seq ?? lastSeq + 1,
    };
  }

  /** The requested topics, each readable by the principal; none requested: every readable one. */
  private topics(principal: Principal, agentId: string, requested: StreamTopic[] | undefined): StreamTopic[] {
    const scopes = scopesFor(principal, agentId);
    if (requested === undefined) {
      const readable = STREAM_TOPICS.filter((topic) => hasScope(scopes, TOPIC_SCOPES[topic]));
      if (readable.length === 0) {
        throw new DomainError(
          ErrorCode.Forbidden,
          `this ${principal.type} may read no topic of agent ${agentId}'s stream`,
          { topics: [] },
        );
      }
      return readable;
    }
    const unique = [...new Set(requested)];
    const refused = unique.filter((topic) => !hasScope(scopes, TOPIC_SCOPES[topic]));
    if (refused.length > 0) {
      throw new DomainError(
        ErrorCode.Forbidden,
        `this ${principal.type} may not read ${refused
          .map((topic) => `${topic} (needs ${TOPIC_SCOPES[topic]})`)
          .join(', ')} on agent ${agentId}`,
        { topics: refused },
      );
    }
    return unique;
  }
}
