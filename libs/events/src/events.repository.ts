import { Injectable } from '@nestjs/common';
import { sql, type Kysely } from 'kysely';
import { asJson, asUuid, InjectKysely, type Database, type EventRow, type Executor } from '@marvain/db';

export const EVENT_COLUMNS = [
  'event_id',
  'seq',
  'agent_id',
  'space_id',
  'source_type',
  'source_id',
  'type',
  'payload',
  'client_event_id',
  'created_at',
] as const;

/** What an insert returns: the stored event without its global seq (readers never see that). */
export const WRITTEN_EVENT_COLUMNS = [
  'event_id',
  'agent_id',
  'space_id',
  'source_type',
  'source_id',
  'type',
  'payload',
  'client_event_id',
  'created_at',
] as const;
export type WrittenEventRow = Omit<EventRow, 'seq'>;

export interface NewEvent {
  event_id: string;
  agent_id: string;
  space_id: string;
  source_type: string;
  source_id: string;
  type: string;
  payload: Record<string, unknown>;
  client_event_id: string | null;
}

@Injectable()
export class EventsRepository {
  constructor(@InjectKysely() private readonly db: Kysely<Database>) {}

  /** Inserts the event unless one with its id (or client event id) exists; the row when it wrote. */
  async insertIfAbsent(event: NewEvent, executor: Executor = this.db): Promise<WrittenEventRow | undefined> {
    return executor
      .insertInto('events')
      .values({
        event_id: asUuid(event.event_id),
        agent_id: asUuid(event.agent_id),
        space_id: asUuid(event.space_id),
        source_type: event.source_type,
        source_id: asUuid(event.source_id),
        type: event.type,
        payload: asJson(event.payload),
        client_event_id: event.client_event_id,
      })
      .onConflict((oc) => oc.doNothing())
      .returning(WRITTEN_EVENT_COLUMNS)
      .executeTakeFirst();
  }

  /**
   * Inserts the event into the space only if the space belongs to one of `agentIds` and is not
   * in privacy mode, in one statement. Returns the stored row (its agent is the space's) when it
   * wrote; undefined when the space did not qualify or the event already exists (the caller finds
   * out which).
   */
  async insertIntoSpace(
    event: Omit<NewEvent, 'agent_id'> & { agentIds: readonly string[] },
    executor: Executor = this.db,
  ): Promise<WrittenEventRow | undefined> {
    return executor
      .insertInto('events')
      .columns(['event_id', 'agent_id', 'space_id', 'source_type', 'source_id', 'type', 'payload', 'client_event_id'])
      .expression((eb) =>
        eb
          .selectFrom('spaces as s')
          .select([
            sql<string>`${event.event_id}::uuid`.as('event_id'),
            's.agent_id',
            's.space_id',
            sql<string>`${event.source_type}::text`.as('source_type'),
            sql<string>`${event.source_id}::uuid`.as('source_id'),
            sql<string>`${event.type}::text`.as('type'),
            sql<string>`${JSON.stringify(event.payload)}::jsonb`.as('payload'),
            sql<string | null>`${event.client_event_id}::text`.as('client_event_id'),
          ])
          .where('s.space_id', '=', asUuid(event.space_id))
          .where(sql<boolean>`s.agent_id = ANY(${`{${event.agentIds.join(',')}}`}::uuid[])`)
          .where('s.privacy_mode', '=', false),
      )
      .onConflict((oc) => oc.doNothing())
      .returning(WRITTEN_EVENT_COLUMNS)
      .executeTakeFirst();
  }

  async findById(eventId: string, executor: Executor = this.db): Promise<EventRow | undefined> {
    return executor
      .selectFrom('events')
      .select([...EVENT_COLUMNS.filter((c) => c !== 'seq'), sql<string>`seq::text`.as('seq')])
      .where('event_id', '=', asUuid(eventId))
      .executeTakeFirst();
  }

  async findByClientEventId(
    agentId: string,
    sourceType: string,
    sourceId: string,
    clientEventId: string,
    executor: Executor = this.db,
  ): Promise<string | undefined> {
    const row = await executor
      .selectFrom('events')
      .select('event_id')
      .where('agent_id', '=', asUuid(agentId))
      .where('source_type', '=', sourceType)
      .where('source_id', '=', asUuid(sourceId))
      .where('client_event_id', '=', clientEventId)
      .executeTakeFirst();
    return row?.event_id;
  }

  /** The latest events of a space, newest last (planner context). */
  async recentInSpace(spaceId: string, limit: number, executor: Executor = this.db): Promise<EventRow[]> {
    const rows = await executor
      .selectFrom('events')
      .select([...EVENT_COLUMNS.filter((c) => c !== 'seq'), sql<string>`seq::text`.as('seq')])
      .where('space_id', '=', asUuid(spaceId))
      .orderBy('events.seq', 'desc')
      .limit(limit)
      .execute();
    return rows.reverse();
  }
}
