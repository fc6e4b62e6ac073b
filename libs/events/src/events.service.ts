import { Inject, Injectable } from '@nestjs/common';
import {
  DomainError,
  ErrorCode,
  hasScope,
  QueueNames,
  TRANSCRIPT_EVENT_TYPES,
  type EventReference,
  type Principal,
} from '@marvain/contracts';
import { TransactionRunner, type EventRow, type Executor, type Tx } from '@marvain/db';
import { IDS, MESSAGE_QUEUE, type Ids, type MessageQueue } from '@marvain/platform';
import { SpacesService } from '@marvain/spaces';
import { AgentStream } from '@marvain/streams';
import type { EventView, IngestEventDto, IngestedEventView } from './events.dto';
import { EventsRepository, type WrittenEventRow } from './events.repository';

const MAX_TRANSCRIPT_CHARS = 20_000;

/** The text a transcript event carries, from `text` or `transcript`. */
export function transcriptText(payload: Record<string, unknown>): string | null {
  const value = payload['text'] ?? payload['transcript'];
  return typeof value === 'string' && value.trim() !== '' ? value : null;
}

export function toEventView(row: WrittenEventRow): EventView {
  return {
    event_id: row.event_id,
    agent_id: row.agent_id,
    space_id: row.space_id,
    type: row.type,
    payload: row.payload,
    source_type: row.source_type,
    source_id: row.source_id,
    created_at: row.created_at.toISOString(),
  };
}

/** A system event to record: one the hub itself emits, e.g. an outbound message. */
export interface SystemEvent {
  event_id: string;
  agent_id: string;
  space_id: string;
  source_type: 'agent' | 'system';
  source_id: string;
  type: string;
  payload: Record<string, unknown>;
}

@Injectable()
export class EventsService {
  constructor(
    private readonly repository: EventsRepository,
    private readonly spaces: SpacesService,
    private readonly transactions: TransactionRunner,
    @Inject(MESSAGE_QUEUE) private readonly queue: MessageQueue,
    @Inject(IDS) private readonly ids: Ids,
    private readonly stream: AgentStream,
  ) {}

  /**
   * Stores an event, queues a reference for the planner and writes it to the agent's stream
   * (`events.new`), in one transaction, and returns without waiting for planning. A repeated
   * client_event_id returns the first event's id.
   */
  async ingest(principal: Principal, input: IngestEventDto): Promise<IngestedEventView> {
    if (TRANSCRIPT_EVENT_TYPES.includes(input.type)) {
      const text = transcriptText(input.payload);
      if (text === null) {
        throw new DomainError(
          ErrorCode.ValidationFailed,
          `a ${input.type} event needs payload.text or payload.transcript`,
        );
      }
      if (text.length > MAX_TRANSCRIPT_CHARS) {
        throw new DomainError(
          ErrorCode.ValidationFailed,
          `payload text is longer than ${MAX_TRANSCRIPT_CHARS} characters`,
        );
      }
    }
    const clientEventId = input.client_event_id ?? null;
    // With a client id, the event id is derived from it: a retry computes the same id.
    const eventId = clientEventId
      ? this.ids.derived(`event:${input.space_id}:${principal.type}:${principal.id}:${clientEventId}`)
      : this.ids.random();
    const writable = principal.agents
      .filter((a) => hasScope(a.scopes, 'events:write') && (!input.agent_id || a.agent_id === input.agent_id))
      .map((a) => a.agent_id);

    // The common case in one statement: the space check is part of the insert.
    const agentId =
      writable.length === 0
        ? undefined
        : await this.transactions.run(async (tx) => {
            const written = await this.repository.insertIntoSpace(
              {
                event_id: eventId,
                agentIds: writable,
                space_id: input.space_id,
                source_type: principal.type,
                source_id: principal.id,
                type: input.type,
                payload: input.payload,
                client_event_id: clientEventId,
              },
              tx.db,
            );
            if (written) {
              const reference: EventReference = { event_id: eventId, agent_id: written.agent_id };
              await this.queue.send(QueueNames.Transcripts, { ...reference }, { tx, dedupKey: `event:${eventId}` });
              await this.appendToStream(tx, written);
            }
            return written?.agent_id;
          });
    if (agentId) {
      return { event_id: eventId, stored: true, duplicate: false };
    }

    // Nothing was written: find out why, answering exactly as the rules say.
    const space = await this.spaces.getForPrincipal(principal, input.space_id, 'events:write');
    if (input.agent_id && input.agent_id !== space.agent_id) {
      throw DomainError.notFound('space', input.space_id);
    }
    // Privacy mode: accepted, but neither stored nor queued.
    if (space.privacy_mode) {
      return { event_id: null, stored: false, duplicate: false };
    }
    const existing = clientEventId
      ? await this.repository.findByClientEventId(space.agent_id, principal.type, principal.id, clientEventId)
      : undefined;
    return { event_id: existing ?? eventId, stored: true, duplicate: true };
  }

  async get(eventId: string, executor?: Executor): Promise<EventRow | undefined> {
    return this.repository.findById(eventId, executor);
  }

  async recentInSpace(spaceId: string, limit: number, executor?: Executor): Promise<EventRow[]> {
    return this.repository.recentInSpace(spaceId, limit, executor);
  }

  /**
   * Records an event the hub itself emits (e.g. an outbound message), idempotent on its id, in
   * `tx` or a transaction of its own. True when it wrote (and so wrote the `events.new` entry).
   */
  async recordSystemEvent(event: SystemEvent, tx?: Tx): Promise<boolean> {
    const record = async (into: Tx): Promise<boolean> => {
      const written = await this.repository.insertIfAbsent({ ...event, client_event_id: null }, into.db);
      if (written) {
        await this.appendToStream(into, written);
      }
      return written !== undefined;
    };
    return tx ? record(tx) : this.transactions.run(record);
  }

  private async appendToStream(tx: Tx, row: WrittenEventRow): Promise<void> {
    await this.stream.append(tx, {
      agent_id: row.agent_id,
      topic: 'events.new',
      space_id: row.space_id,
      data: toEventView(row),
    });
  }
}
