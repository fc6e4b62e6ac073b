import { Injectable } from '@nestjs/common';
import { ActionsService } from '@marvain/actions';
import { CommandResultMessage, CommandsService } from '@marvain/commands';
import { DomainError, ErrorCode, type Principal, type Scope, type ServerMessage } from '@marvain/contracts';
import { EventsService, type IngestEventDto } from '@marvain/events';
import { DevicesService, HeartbeatDto } from '@marvain/identity';
import { holdsScopeAnywhere, validateInput } from '@marvain/platform';
import { PresenceService } from '@marvain/presence';
import type { ConnectionSession } from './connection-session';
import type { StoredSubscription } from './connection-store';
import {
  ActionMessage,
  ListActionsMessage,
  PushTranscriptMessage,
  RejectActionMessage,
  SendEventMessage,
  SubscribeMessage,
  SubscribePresenceMessage,
  UnsubscribeMessage,
} from './realtime.dto';
import type { ConnectionState } from './realtime.gateway';
import { StreamAccess } from './stream-access.service';

type Fields = Record<string, unknown>;
type Reply<T extends ServerMessage['type']> = Omit<Extract<ServerMessage, { type: T }>, 'id'>;

/**
 * The verbs after hello, each the WebSocket twin of a REST route: the same DTO validation, the
 * same coarse scope check as the route's guard, then the same service call.
 */
@Injectable()
export class ProtocolVerbs {
  constructor(
    private readonly events: EventsService,
    private readonly actions: ActionsService,
    private readonly devices: DevicesService,
    private readonly presence: PresenceService,
    private readonly access: StreamAccess,
    private readonly commands: CommandsService,
  ) {}

  /** A device's answer to one of its commands (no REST twin: only a device's connection answers). */
  async commandResult(principal: Principal, fields: Fields): Promise<Reply<'cmd.result_ok'>> {
    const input = await validateInput(CommandResultMessage, fields);
    const outcome = await this.commands.recordResult(principal, input);
    return { type: 'cmd.result_ok', ...outcome };
  }

  async heartbeat(principal: Principal, fields: Fields): Promise<Reply<'heartbeat_ok'>> {
    requireScope(principal, 'presence:write');
    const input = await validateInput(HeartbeatDto, fields);
    const beat = await this.devices.heartbeat(principal, input);
    return { type: 'heartbeat_ok', ts: beat.last_heartbeat_at };
  }

  async sendEvent(principal: Principal, fields: Fields): Promise<Reply<'event_ack'>> {
    requireScope(principal, 'events:write');
    const { event } = await validateInput(SendEventMessage, fields);
    return this.ingest(principal, event);
  }

  async pushTranscript(principal: Principal, fields: Fields): Promise<Reply<'event_ack'>> {
    requireScope(principal, 'events:write');
    const input = await validateInput(PushTranscriptMessage, fields);
    return this.ingest(principal, {
      space_id: input.space_id,
      type: 'transcript_chunk',
      payload: { text: input.text },
      ...(input.client_event_id !== undefined ? { client_event_id: input.client_event_id } : {}),
    });
  }

  async listActions(principal: Principal, fields: Fields): Promise<Reply<'actions'>> {
    requireScope(principal, 'actions:read');
    const query = await validateInput(ListActionsMessage, fields);
    const list = await this.actions.list(principal, query);
    return {
      type: 'actions',
      actions: list.actions as unknown as Array<Record<string, unknown>>,
      next_cursor: list.next_cursor,
    };
  }

  async approveAction(principal: Principal, fields: Fields): Promise<Reply<'action'>> {
    requireScope(principal, 'actions:approve');
    const input = await validateInput(ActionMessage, fields);
    const action = await this.actions.approve(principal, input.action_id);
    return { type: 'action', action: action as unknown as Record<string, unknown> };
  }

  async rejectAction(principal: Principal, fields: Fields): Promise<Reply<'action'>> {
    requireScope(principal, 'actions:approve');
    const input = await validateInput(RejectActionMessage, fields);
    const action = await this.actions.reject(principal, input.action_id, input.reason);
    return { type: 'action', action: action as unknown as Record<string, unknown> };
  }

  /** Starts (or replaces) the agent's subscription; the session replays from its first seq after the reply. */
  async subscribe(
    state: ConnectionState,
    principal: Principal,
    fields: Fields,
    session: ConnectionSession,
  ): Promise<Reply<'subscribed'>> {
    const input = await validateInput(SubscribeMessage, fields);
    const grant = await this.access.grant(principal, input);
    setSubscription(state, grant.subscription);
    await session.subscribe(grant.subscription, grant.fromSeq);
    return {
      type: 'subscribed',
      agent_id: grant.subscription.agent_id,
      space_id: grant.subscription.space_id,
      topics: grant.subscription.topics,
      last_seq: grant.lastSeq,
    };
  }

  async unsubscribe(
    state: ConnectionState,
    fields: Fields,
    session: ConnectionSession,
  ): Promise<Reply<'unsubscribed'>> {
    const input = await validateInput(UnsubscribeMessage, fields);
    state.subscriptions = state.subscriptions.filter((s) => s.agent_id !== input.agent_id);
    await session.unsubscribe(input.agent_id);
    return { type: 'unsubscribed', agent_id: input.agent_id };
  }

  /**
   * The presence snapshot, and `presence.updated` added to the agent's subscription: to the
   * existing one (keeping its position and space), else a new one from the head read before the
   * snapshot, so no change between the two is missed.
   */
  async subscribePresence(
    state: ConnectionState,
    principal: Principal,
    fields: Fields,
    session: ConnectionSession,
  ): Promise<Reply<'presence'>> {
    requireScope(principal, 'spaces:read');
    const input = await validateInput(SubscribePresenceMessage, fields);
    const grant = await this.access.grant(principal, {
      agent_id: input.agent_id,
      topics: ['presence.updated'],
      ...(input.space_id !== undefined ? { space_id: input.space_id } : {}),
    });
    const presence = await this.presence.list(principal, input.agent_id, input.space_id);
    const existing = state.subscriptions.find((s) => s.agent_id === input.agent_id);
    if (existing) {
      const widened: StoredSubscription = {
        ...existing,
        topics: existing.topics.includes('presence.updated')
          ? existing.topics
          : [...existing.topics, 'presence.updated'],
      };
      setSubscription(state, widened);
      await session.subscribe(widened, null);
    } else {
      setSubscription(state, grant.subscription);
      await session.subscribe(grant.subscription, grant.fromSeq);
    }
    return { type: 'presence', agent_id: input.agent_id, space_id: grant.subscription.space_id, presence };
  }

  private async ingest(principal: Principal, event: IngestEventDto): Promise<Reply<'event_ack'>> {
    const ingested = await this.events.ingest(principal, event);
    return { type: 'event_ack', event_id: ingested.event_id, stored: ingested.stored, duplicate: ingested.duplicate };
  }
}

/** The REST guard's check: the verb's scope on at least one agent (the service checks the agent). */
function requireScope(principal: Principal, scope: Scope): void {
  if (!holdsScopeAnywhere(principal, scope)) {
    throw new DomainError(ErrorCode.Forbidden, `this ${principal.type} lacks the ${scope} scope`);
  }
}

function setSubscription(state: ConnectionState, subscription: StoredSubscription): void {
  state.subscriptions = [...state.subscriptions.filter((s) => s.agent_id !== subscription.agent_id), subscription];
}
