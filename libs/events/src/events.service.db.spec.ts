import { sql, type Kysely } from 'kysely';
import { randomUUID } from 'node:crypto';
import { DomainError, ErrorCode, QueueNames, type Principal, type StreamEntry } from '@marvain/contracts';
import { KYSELY, TransactionRunner, type Database } from '@marvain/db';
import { testDatabaseKind } from '@marvain/db/testing';
import { openFeatureTestContext, refused, type FeatureTestContext } from '@marvain/platform/testing';
import { AuditService } from '@marvain/audit';
import {
  BootstrapService,
  hashDeviceToken,
  IdentityModule,
  newDeviceToken,
  PrincipalResolver,
  type BootstrapResult,
} from '@marvain/identity';
import { MESSAGE_QUEUE, type MessageQueue } from '@marvain/platform';
import { AgentStream } from '@marvain/streams';
import { recordPublished, TestStreamPublisherModule } from '@marvain/streams/testing';
import { EventsModule } from './events.module';
import { EventsService } from './events.service';

describe(`EventsService.ingest (${testDatabaseKind()})`, () => {
  let context: FeatureTestContext;
  let events: EventsService;
  let db: Kysely<Database>;
  let resolver: PrincipalResolver;
  /** An owner of two agents ("home" and "other"), each bootstrapped with a space and a device. */
  let home: BootstrapResult;
  let other: BootstrapResult;
  let homeDevice: Principal;
  let owner: Principal;

  beforeAll(async () => {
    context = await openFeatureTestContext([TestStreamPublisherModule, IdentityModule, EventsModule], {
      // Let the audit copies finish before the database goes away.
      beforeClose: (moduleRef) => moduleRef.get(AuditService, { strict: false }).flush(),
    });
    events = context.moduleRef.get(EventsService);
    db = context.moduleRef.get<Kysely<Database>>(KYSELY);
    resolver = context.moduleRef.get(PrincipalResolver, { strict: false });
    const bootstrap = context.moduleRef.get(BootstrapService, { strict: false });
    home = await bootstrap.bootstrap({ agentName: 'Home', spaceName: 'Kitchen' });
    other = await bootstrap.bootstrap({ agentName: 'Other', spaceName: 'Office', ownerUserId: home.user_id });
    homeDevice = await resolver.resolve(home.device_token);
    owner = await resolver.resolve(home.user_token);
  });

  afterAll(() => context.close());

  async function countRows(table: 'events' | 'queue_messages'): Promise<number> {
    const result = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.table(table)}`.execute(db);
    return result.rows[0]?.n ?? -1;
  }

  async function queuedFor(eventId: string): Promise<Array<{ queue: string; body: Record<string, unknown> }>> {
    const result = await sql<{ queue: string; body: Record<string, unknown> }>`
      SELECT queue, body FROM queue_messages WHERE body->>'event_id' = ${eventId}`.execute(db);
    return result.rows;
  }

  /** A second device of the home agent, registered the way an operator would, resolved from its token. */
  async function registerDevice(name: string, scopes: string[]): Promise<Principal> {
    const token = newDeviceToken();
    await sql`INSERT INTO devices (agent_id, name, token_hash, scopes)
              VALUES (${home.agent_id}::uuid, ${name}, ${hashDeviceToken(token)}, ${JSON.stringify(scopes)}::jsonb)`.execute(
      db,
    );
    return resolver.resolve(token);
  }

  const ingestError = (principal: Principal, input: Parameters<EventsService['ingest']>[1]): Promise<DomainError> =>
    refused(events.ingest(principal, input));

  it('stores a transcript from a device and queues exactly one reference to it for the planner', async () => {
    const result = await events.ingest(homeDevice, {
      space_id: home.space_id,
      type: 'transcript',
      payload: { text: 'tell Sam the package arrived' },
    });

    expect(result.stored).toBe(true);
    expect(result.duplicate).toBe(false);
    expect(result.event_id).toMatch(/^[0-9a-f-]{36}$/);
    const stored = await events.get(result.event_id as string);
    expect(stored).toMatchObject({
      agent_id: home.agent_id,
      space_id: home.space_id,
      source_type: 'device',
      source_id: home.device_id,
      type: 'transcript',
      payload: { text: 'tell Sam the package arrived' },
      client_event_id: null,
    });
    // A reference, never the payload.
    expect(await queuedFor(result.event_id as string)).toEqual([
      { queue: QueueNames.Transcripts, body: { event_id: result.event_id, agent_id: home.agent_id } },
    ]);
  });

  it('gives every ingest without a client id its own event', async () => {
    const input = { space_id: home.space_id, type: 'transcript', payload: { text: 'same words twice' } };
    const first = await events.ingest(homeDevice, input);
    const second = await events.ingest(homeDevice, input);
    expect(first.event_id).not.toBe(second.event_id);
    expect(second.duplicate).toBe(false);
    expect(await queuedFor(first.event_id as string)).toHaveLength(1);
    expect(await queuedFor(second.event_id as string)).toHaveLength(1);
  });

  it('answers a repeated client_event_id with the first event, marked duplicate, and queues nothing new', async () => {
    const input = {
      space_id: home.space_id,
      type: 'transcript',
      payload: { text: 'dinner is ready' },
      client_event_id: 'chunk-0001',
    };
    const first = await events.ingest(homeDevice, input);
    const eventsBefore = await countRows('events');
    const queuedBefore = await countRows('queue_messages');

    const again = await events.ingest(homeDevice, input);
    const changedPayload = await events.ingest(homeDevice, { ...input, payload: { text: 'a different retry body' } });

    expect(first).toMatchObject({ stored: true, duplicate: false });
    expect(again).toEqual({ event_id: first.event_id, stored: true, duplicate: true });
    expect(changedPayload).toEqual({ event_id: first.event_id, stored: true, duplicate: true });
    expect(await countRows('events')).toBe(eventsBefore);
    expect(await countRows('queue_messages')).toBe(queuedBefore);
    expect((await events.get(first.event_id as string))?.payload).toEqual({ text: 'dinner is ready' });
  });

  it('does not queue a repeated client_event_id again even after the planner has taken the first reference off the queue', async () => {
    const input = {
      space_id: home.space_id,
      type: 'transcript',
      payload: { text: 'lights off' },
      client_event_id: 'chunk-consumed',
    };
    const first = await events.ingest(homeDevice, input);
    const queue = context.moduleRef.get<MessageQueue>(MESSAGE_QUEUE);
    const received = await queue.receive<{ event_id: string }>(QueueNames.Transcripts, {
      max: 100,
      visibilityTimeoutSeconds: 60,
    });
    const mine = received.find((m) => m.body.event_id === first.event_id);
    expect(mine).toBeDefined();
    await queue.ack(QueueNames.Transcripts, mine as NonNullable<typeof mine>);
    expect(await queuedFor(first.event_id as string)).toEqual([]);

    const again = await events.ingest(homeDevice, input);
    expect(again).toEqual({ event_id: first.event_id, stored: true, duplicate: true });
    expect(await queuedFor(first.event_id as string)).toEqual([]);
  });

  it('treats the same client_event_id from a different device (or a user) as a different event', async () => {
    const hallway = await registerDevice('Hallway satellite', ['events:write']);
    const input = {
      space_id: home.space_id,
      type: 'transcript',
      payload: { text: 'hello' },
      client_event_id: 'shared-id-1',
    };

    const fromKitchen = await events.ingest(homeDevice, input);
    const fromHallway = await events.ingest(hallway, input);
    const fromOwner = await events.ingest(owner, input);

    const ids = [fromKitchen.event_id, fromHallway.event_id, fromOwner.event_id];
    expect(new Set(ids).size).toBe(3);
    expect([fromKitchen.duplicate, fromHallway.duplicate, fromOwner.duplicate]).toEqual([false, false, false]);
    expect((await events.get(fromHallway.event_id as string))?.source_id).toBe(hallway.id);
    expect(await events.get(fromOwner.event_id as string)).toMatchObject({
      source_type: 'user',
      source_id: home.user_id,
    });
    for (const id of ids) {
      expect(await queuedFor(id as string)).toHaveLength(1);
    }
  });

  it('stores one event and queues one reference when the same client_event_id arrives twice at once', async () => {
    const input = {
      space_id: home.space_id,
      type: 'transcript',
      payload: { text: 'racing retry' },
      client_event_id: 'concurrent-1',
    };
    const results = await Promise.all([events.ingest(homeDevice, input), events.ingest(homeDevice, input)]);

    expect(results[0].event_id).toBe(results[1].event_id);
    expect(results.map((r) => r.duplicate).sort()).toEqual([false, true]);
    const rows = await sql<{
      n: number;
    }>`SELECT count(*)::int AS n FROM events WHERE client_event_id = 'concurrent-1'`.execute(db);
    expect(rows.rows[0]?.n).toBe(1);
    expect(await queuedFor(results[0].event_id as string)).toHaveLength(1);
  });

  it('accepts but neither stores nor queues anything in a space in privacy mode', async () => {
    const space = await sql<{ space_id: string }>`
      INSERT INTO spaces (agent_id, name) VALUES (${home.agent_id}::uuid, 'Bedroom') RETURNING space_id`.execute(db);
    const spaceId = space.rows[0]?.space_id as string;
    await sql`UPDATE spaces SET privacy_mode = true WHERE space_id = ${spaceId}::uuid`.execute(db);
    const eventsBefore = await countRows('events');
    const queuedBefore = await countRows('queue_messages');

    const plain = await events.ingest(homeDevice, {
      space_id: spaceId,
      type: 'transcript',
      payload: { text: 'a private conversation' },
    });
    const withClientId = await events.ingest(homeDevice, {
      space_id: spaceId,
      type: 'door.opened',
      payload: {},
      client_event_id: 'private-1',
    });

    expect(plain).toEqual({ event_id: null, stored: false, duplicate: false });
    expect(withClientId).toEqual({ event_id: null, stored: false, duplicate: false });
    expect(await countRows('events')).toBe(eventsBefore);
    expect(await countRows('queue_messages')).toBe(queuedBefore);
    const text = await sql<{
      n: number;
    }>`SELECT count(*)::int AS n FROM events WHERE payload::text LIKE '%private conversation%'`.execute(db);
    expect(text.rows[0]?.n).toBe(0);
  });

  it.each<[string, Record<string, unknown>]>([
    ['no text at all', {}],
    ['empty text', { text: '' }],
    ['blank text', { text: '   \n ' }],
    ['text that is not a string', { text: 42 }],
  ])('rejects a transcript with %s as validation_failed and stores nothing', async (_what, payload) => {
    const eventsBefore = await countRows('events');
    const queuedBefore = await countRows('queue_messages');
    for (const type of ['transcript', 'transcript_chunk']) {
      const error = await ingestError(homeDevice, { space_id: home.space_id, type, payload });
      expect(error.code).toBe(ErrorCode.ValidationFailed);
    }
    expect(await countRows('events')).toBe(eventsBefore);
    expect(await countRows('queue_messages')).toBe(queuedBefore);
  });

  it('accepts a transcript chunk that carries its words in payload.transcript', async () => {
    const result = await events.ingest(homeDevice, {
      space_id: home.space_id,
      type: 'transcript_chunk',
      payload: { transcript: 'partial words' },
    });
    expect(result.stored).toBe(true);
    expect(await queuedFor(result.event_id as string)).toHaveLength(1);
  });

  it("answers not_found for another agent's space, exactly as for a space that does not exist, and stores nothing", async () => {
    const eventsBefore = await countRows('events');
    const foreign = await ingestError(homeDevice, {
      space_id: other.space_id,
      type: 'transcript',
      payload: { text: 'hi' },
    });
    const missing = await ingestError(homeDevice, {
      space_id: '00000000-0000-4000-8000-000000000000',
      type: 'transcript',
      payload: { text: 'hi' },
    });
    expect(foreign.code).toBe(ErrorCode.NotFound);
    expect(missing.code).toBe(ErrorCode.NotFound);
    expect(foreign.message).not.toContain(other.agent_id);
    expect(await countRows('events')).toBe(eventsBefore);
  });

  it("answers not_found when agent_id does not match the space's agent, even for a member of both agents", async () => {
    expect(owner.agents.map((a) => a.agent_id).sort()).toEqual([home.agent_id, other.agent_id].sort());
    const eventsBefore = await countRows('events');
    const error = await ingestError(owner, {
      space_id: home.space_id,
      agent_id: other.agent_id,
      type: 'transcript',
      payload: { text: 'hi' },
    });
    expect(error.code).toBe(ErrorCode.NotFound);
    expect(await countRows('events')).toBe(eventsBefore);

    const matching = await events.ingest(owner, {
      space_id: other.space_id,
      agent_id: other.agent_id,
      type: 'transcript',
      payload: { text: 'hi' },
    });
    expect(matching.stored).toBe(true);
    expect((await events.get(matching.event_id as string))?.agent_id).toBe(other.agent_id);
  });

  it('forbids a device without the events:write scope and stores nothing', async () => {
    const sensor = await registerDevice('Presence sensor', ['presence:write']);
    const eventsBefore = await countRows('events');
    const queuedBefore = await countRows('queue_messages');
    const error = await ingestError(sensor, {
      space_id: home.space_id,
      type: 'transcript',
      payload: { text: 'let me in' },
    });
    expect(error.code).toBe(ErrorCode.Forbidden);
    expect(await countRows('events')).toBe(eventsBefore);
    expect(await countRows('queue_messages')).toBe(queuedBefore);
  });

  describe('the events.new stream', () => {
    let stream: AgentStream;

    beforeAll(() => {
      stream = context.moduleRef.get(AgentStream, { strict: false });
    });

    /** The agent's stream entries written after `afterSeq`, oldest first. */
    const entriesAfter = (agentId: string, afterSeq: number): Promise<StreamEntry[]> =>
      stream.read(agentId, afterSeq + 1);

    /** The event as a reader sees it, from the events table. */
    async function storedView(eventId: string): Promise<Record<string, unknown>> {
      const row = await events.get(eventId);
      if (!row) {
        throw new Error(`event ${eventId} was not stored`);
      }
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

    it('writes a stored event to its agent’s stream in its space, as events.new carrying the event, published once committed', async () => {
      const before = await stream.head(home.agent_id);
      const published = recordPublished(context.moduleRef);

      const result = await events.ingest(homeDevice, {
        space_id: home.space_id,
        type: 'transcript',
        payload: { text: 'the stream hears this' },
      });
      published.stop();

      const entries = await entriesAfter(home.agent_id, before);
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({
        seq: before + 1,
        agent_id: home.agent_id,
        topic: 'events.new',
        space_id: home.space_id,
      });
      expect(entries[0]?.data).toEqual(await storedView(result.event_id as string));
      expect(entries[0]?.data).toMatchObject({
        source_type: 'device',
        source_id: homeDevice.id,
        payload: { text: 'the stream hears this' },
      });
      expect(published.entries).toEqual(entries);
    });

    it('writes one entry for an event however often its client_event_id arrives, at once or later', async () => {
      const before = await stream.head(home.agent_id);
      const input = {
        space_id: home.space_id,
        type: 'door.opened',
        payload: {},
        client_event_id: `stream-${randomUUID()}`,
      };

      const [first, second] = await Promise.all([events.ingest(homeDevice, input), events.ingest(homeDevice, input)]);
      const third = await events.ingest(homeDevice, input);

      expect([first, second, third].filter((r) => r.duplicate)).toHaveLength(2);
      const entries = await entriesAfter(home.agent_id, before);
      expect(entries.map((e) => e.data['event_id'])).toEqual([first.event_id]);
    });

    it('writes nothing for an event privacy mode kept out', async () => {
      const space = await sql<{ space_id: string }>`
        INSERT INTO spaces (agent_id, name, privacy_mode) VALUES (${home.agent_id}::uuid, 'Study', true)
        RETURNING space_id`.execute(db);
      const before = await stream.head(home.agent_id);

      const result = await events.ingest(homeDevice, {
        space_id: space.rows[0]?.space_id as string,
        type: 'transcript',
        payload: { text: 'private words' },
      });

      expect(result.stored).toBe(false);
      expect(await stream.head(home.agent_id)).toBe(before);
    });

    it('writes a recorded system event once, and nothing when its transaction rolls back', async () => {
      const transactions = context.moduleRef.get(TransactionRunner);
      const before = await stream.head(home.agent_id);
      const message = {
        event_id: randomUUID(),
        agent_id: home.agent_id,
        space_id: home.space_id,
        source_type: 'agent' as const,
        source_id: home.agent_id,
        type: 'message.outbound',
        payload: { to: 'Sam', text: 'the package arrived' },
      };

      expect(await events.recordSystemEvent(message)).toBe(true);
      expect(await events.recordSystemEvent(message)).toBe(false);

      const entries = await entriesAfter(home.agent_id, before);
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({ topic: 'events.new', space_id: home.space_id });
      expect(entries[0]?.data).toEqual(await storedView(message.event_id));

      const published = recordPublished(context.moduleRef);
      const rolledBack = { ...message, event_id: randomUUID() };
      await expect(
        transactions.run(async (tx) => {
          expect(await events.recordSystemEvent(rolledBack, tx)).toBe(true);
          throw new Error('the action failed after recording its message');
        }),
      ).rejects.toThrow('the action failed');
      published.stop();

      expect(await events.get(rolledBack.event_id)).toBeUndefined();
      expect(await stream.head(home.agent_id)).toBe(before + 1);
      expect(published.entries).toEqual([]);
    });
  });
});
