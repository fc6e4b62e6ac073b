import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Logger } from '@nestjs/common';
import { sql, type Kysely } from 'kysely';
import { QueueNames, type EventReference, type Principal, type StreamEntry } from '@marvain/contracts';
import { asUuid, KYSELY, type Database } from '@marvain/db';
import { testDatabaseKind } from '@marvain/db/testing';
import { AuditService } from '@marvain/audit';
import { EventsService } from '@marvain/events';
import { BootstrapService, IdentityModule, PrincipalResolver, type BootstrapResult } from '@marvain/identity';
import { MESSAGE_QUEUE, PoisonMessageError, type MessageQueue } from '@marvain/platform';
import {
  auditEntries,
  openFeatureTestContext,
  type AuditEntryBody,
  type FeatureTestContext,
} from '@marvain/platform/testing';
import { AgentStream } from '@marvain/streams';
import { TestStreamPublisherModule } from '@marvain/streams/testing';
import { PLANNER_MODEL, type PlannerContext, type PlannerModel } from './planner-model';
import { PLANNER_LIMITS } from './planner-output';
import { PlannerConsumer } from './planner.consumer';
import { PlannerModule } from './planner.module';
import { RulesPlannerModel } from './rules-planner.model';
import { EventNotFoundYetError, PlannerService } from './planner.service';

jest.setTimeout(60_000);

/**
 * The planner model port for this file: the built-in rules model, unless a test scripts what
 * the model returns (or throws). One module and one audit sink serve every test, as in the hub.
 */
class TestPlannerModel implements PlannerModel {
  private readonly rules = new RulesPlannerModel();
  script: ((context: PlannerContext) => unknown) | null = null;
  calls = 0;
  get name(): string {
    return this.script ? 'scripted-test-model' : this.rules.name;
  }
  async plan(context: PlannerContext): Promise<unknown> {
    this.calls++;
    return this.script ? this.script(context) : this.rules.plan(context);
  }
}

describe(`PlannerService (${testDatabaseKind()})`, () => {
  let context: FeatureTestContext;
  const model = new TestPlannerModel();
  let planner: PlannerService;
  let events: EventsService;
  let audit: AuditService;
  let db: Kysely<Database>;
  let home: BootstrapResult;
  let device: Principal;

  beforeAll(async () => {
    context = await openFeatureTestContext([TestStreamPublisherModule, IdentityModule, PlannerModule], {
      customize: (builder) => builder.overrideProvider(PLANNER_MODEL).useValue(model),
      // Let the audit copies finish before the database goes away.
      beforeClose: () => audit.flush(),
    });
    planner = context.moduleRef.get(PlannerService);
    events = context.moduleRef.get(EventsService, { strict: false });
    audit = context.moduleRef.get(AuditService, { strict: false });
    db = context.moduleRef.get<Kysely<Database>>(KYSELY);
    home = await context.moduleRef
      .get(BootstrapService, { strict: false })
      .bootstrap({ agentName: 'Home', spaceName: 'Kitchen' });
    device = await context.moduleRef.get(PrincipalResolver, { strict: false }).resolve(home.device_token);
  });

  beforeEach(() => {
    model.script = null;
  });

  afterAll(() => context.close());

  /** Ingests an event the way a satellite does and returns the reference the planner gets. */
  async function ingest(payload: Record<string, unknown>, type = 'transcript'): Promise<EventReference> {
    const result = await events.ingest(device, { space_id: home.space_id, type, payload });
    expect(result.stored).toBe(true);
    return { event_id: result.event_id as string, agent_id: home.agent_id };
  }

  async function totals(): Promise<Record<'memories' | 'actions' | 'audit_entries' | 'planner_runs', number>> {
    const result = await sql<{ memories: number; actions: number; audit_entries: number; planner_runs: number }>`
      SELECT (SELECT count(*)::int FROM memories) AS memories,
             (SELECT count(*)::int FROM actions) AS actions,
             (SELECT count(*)::int FROM audit_entries) AS audit_entries,
             (SELECT count(*)::int FROM planner_runs) AS planner_runs`.execute(db);
    return result.rows[0] as Awaited<ReturnType<typeof totals>>;
  }

  const memoriesOf = (eventId: string) =>
    db
      .selectFrom('memories')
      .select(['memory_id', 'agent_id', 'space_id', 'tier', 'content', 'provenance'])
      .where('source_event_id', '=', asUuid(eventId))
      .orderBy('tier')
      .orderBy('content')
      .execute();
  const actionsOf = (eventId: string) =>
    db
      .selectFrom('actions')
      .select(['action_id', 'agent_id', 'space_id', 'kind', 'payload', 'required_scopes', 'status', 'reason'])
      .where('source_event_id', '=', asUuid(eventId))
      .execute();
  const runsOf = (eventId: string) =>
    db
      .selectFrom('planner_runs')
      .select(['run_id', 'agent_id', 'model', 'status', 'output', 'error'])
      .where('event_id', '=', asUuid(eventId))
      .execute();

  const agentAudit = (agentId: string): Promise<AuditEntryBody[]> => auditEntries(db, { agentId });

  /** Audit entries about one event: the event itself, its run, and the actions it proposed. */
  function aboutEvent(entries: AuditEntryBody[], eventId: string): string[] {
    return entries
      .filter((e) => e.subject?.id === eventId || e.details?.['source_event_id'] === eventId)
      .map((e) => e.action);
  }

  it('plans a "tell Sam" transcript into one episodic memory and one proposed send_message needing messages:send', async () => {
    const reference = await ingest({ text: 'tell Sam the package arrived' });

    expect(await planner.handle(reference)).toBe('planned');

    const memories = await memoriesOf(reference.event_id);
    expect(memories).toHaveLength(1);
    expect(memories[0]).toMatchObject({
      agent_id: home.agent_id,
      space_id: home.space_id,
      tier: 'episodic',
      content: 'tell Sam the package arrived',
    });
    expect(memories[0]?.provenance).toMatchObject({ model: 'rules-v1' });

    const actions = await actionsOf(reference.event_id);
    expect(actions).toHaveLength(1);
    expect(actions[0]).toMatchObject({
      agent_id: home.agent_id,
      space_id: home.space_id,
      kind: 'send_message',
      payload: { to: 'Sam', text: 'the package arrived' },
      required_scopes: ['messages:send'],
      status: 'proposed',
    });

    const runs = await runsOf(reference.event_id);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ agent_id: home.agent_id, model: 'rules-v1', status: 'succeeded', error: null });
    expect(runs[0]?.output).toMatchObject({
      actions: [{ kind: 'send_message', payload: { to: 'Sam', text: 'the package arrived' } }],
    });
  });

  it('plans a transcript without a request into one episodic memory and no action', async () => {
    const reference = await ingest({ text: 'the weather is lovely today' });
    expect(await planner.handle(reference)).toBe('planned');
    expect((await memoriesOf(reference.event_id)).map((m) => [m.tier, m.content])).toEqual([
      ['episodic', 'the weather is lovely today'],
    ]);
    expect(await actionsOf(reference.event_id)).toEqual([]);
  });

  it('writes semantic memories (not tied to a space) for what the speaker says about themselves', async () => {
    const reference = await ingest({ transcript: 'my name is Ada and I love jazz' }, 'transcript_chunk');
    expect(await planner.handle(reference)).toBe('planned');
    const semantic = (await memoriesOf(reference.event_id)).filter((m) => m.tier === 'semantic');
    expect(semantic.map((m) => m.content).sort()).toEqual(
      ['The speaker loves jazz.', "The speaker's name is Ada."].sort(),
    );
    expect(semantic.every((m) => m.space_id === null)).toBe(true);
  });

  it('answers a redelivery of the same reference with "duplicate" and writes no memories, actions, runs or audit entries', async () => {
    const reference = await ingest({ text: 'tell Sam the keys are on the hook' });
    expect(await planner.handle(reference)).toBe('planned');
    const before = await totals();
    const memoryIds = (await memoriesOf(reference.event_id)).map((m) => m.memory_id);

    expect(await planner.handle(reference)).toBe('duplicate');
    expect(await planner.handle({ ...reference })).toBe('duplicate');

    expect(await totals()).toEqual(before);
    expect((await memoriesOf(reference.event_id)).map((m) => m.memory_id)).toEqual(memoryIds);
  });

  it('writes exactly one set of rows when two deliveries of the same event are handled at once', async () => {
    const reference = await ingest({ text: 'let Sam know that dinner is ready' });
    const before = await totals();

    const outcomes = await Promise.all([planner.handle(reference), planner.handle(reference)]);

    expect([...outcomes].sort()).toEqual(['duplicate', 'planned']);
    expect(await memoriesOf(reference.event_id)).toHaveLength(1);
    const actions = await actionsOf(reference.event_id);
    expect(actions.map((a) => a.payload)).toEqual([{ to: 'Sam', text: 'dinner is ready' }]);
    expect(await runsOf(reference.event_id)).toHaveLength(1);
    const after = await totals();
    expect(after).toEqual({
      memories: before.memories + 1,
      actions: before.actions + 1,
      planner_runs: before.planner_runs + 1,
      audit_entries: before.audit_entries + 3,
    });
    expect(aboutEvent(await agentAudit(home.agent_id), reference.event_id)).toEqual([
      'event.ingested',
      'action.proposed',
      'planner.completed',
    ]);
  });

  it('skips an event that is not a transcript, recording a run and writing no memories or actions', async () => {
    const reference = await ingest({ door: 'front', state: 'open' }, 'door.opened');

    expect(await planner.handle(reference)).toBe('skipped');

    expect(await runsOf(reference.event_id)).toEqual([
      expect.objectContaining({ agent_id: home.agent_id, status: 'skipped', output: null, error: null }),
    ]);
    expect(await memoriesOf(reference.event_id)).toEqual([]);
    expect(await actionsOf(reference.event_id)).toEqual([]);
    expect(aboutEvent(await agentAudit(home.agent_id), reference.event_id)).toEqual([
      'event.ingested',
      'planner.skipped',
    ]);
    expect(await planner.handle(reference)).toBe('duplicate');
  });

  it('rejects invalid model output: a failed run is recorded and no memories or actions are written', async () => {
    model.script = () => ({
      episodic: [{ content: 'tell Sam the package arrived' }],
      semantic: [],
      actions: [
        {
          kind: 'send_message',
          payload: { to: 'Sam', text: 'the package arrived' },
          reason: 'asked',
          auto_approve: true,
        },
      ],
    });
    const reference = await ingest({ text: 'tell Sam the package arrived' });

    expect(await planner.handle(reference)).toBe('rejected');

    const runs = await runsOf(reference.event_id);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ model: 'scripted-test-model', status: 'failed', output: null });
    expect(runs[0]?.error).toMatch(/invalid planner output/);
    expect(runs[0]?.error).toMatch(/additional properties/);
    expect(await memoriesOf(reference.event_id)).toEqual([]);
    expect(await actionsOf(reference.event_id)).toEqual([]);
    expect(aboutEvent(await agentAudit(home.agent_id), reference.event_id)).toEqual([
      'event.ingested',
      'planner.rejected',
    ]);

    // A rejected event is settled: a redelivery does not ask the model again.
    const calls = model.calls;
    expect(await planner.handle(reference)).toBe('duplicate');
    expect(model.calls).toBe(calls);
  });

  it.each<[string, unknown]>([
    ['not an object', 'tell Sam the package arrived'],
    ['null', null],
    [
      'too many actions',
      {
        episodic: [],
        semantic: [],
        actions: Array.from({ length: 4 }, () => ({
          kind: 'send_message',
          payload: { to: 'Sam', text: 'x' },
          reason: 'r',
        })),
      },
    ],
    [
      'an unknown action kind',
      { episodic: [], semantic: [], actions: [{ kind: 'http_request', payload: { to: 'x', text: 'y' }, reason: 'r' }] },
    ],
    ['an over-long memory', { episodic: [{ content: 'x'.repeat(2001) }], semantic: [], actions: [] }],
  ])('rejects model output that is %s without writing memories', async (_what, output) => {
    model.script = () => output;
    const reference = await ingest({ text: 'tell Sam the package arrived' });
    expect(await planner.handle(reference)).toBe('rejected');
    expect((await runsOf(reference.event_id)).map((r) => r.status)).toEqual(['failed']);
    expect(await memoriesOf(reference.event_id)).toEqual([]);
    expect(await actionsOf(reference.event_id)).toEqual([]);
  });

  it('writes nothing when the model fails, so the retried message can plan the event later', async () => {
    let fail = true;
    model.script = () => {
      if (fail) {
        throw new Error('model unavailable');
      }
      return { episodic: [{ content: 'planned on the retry' }], semantic: [], actions: [] };
    };
    const reference = await ingest({ text: 'something worth remembering' });
    const before = await totals();

    await expect(planner.handle(reference)).rejects.toThrow('model unavailable');
    expect(await totals()).toEqual(before);

    fail = false;
    expect(await planner.handle(reference)).toBe('planned');
    expect((await memoriesOf(reference.event_id)).map((m) => m.content)).toEqual(['planned on the retry']);
  });

  it("gives the model the event text and the space's recent events as context", async () => {
    const earlier = await ingest({ text: 'an earlier remark' });
    expect(await planner.handle(earlier)).toBe('planned');
    let seen: PlannerContext | undefined;
    model.script = (context) => {
      seen = context;
      return { episodic: [], semantic: [], actions: [] };
    };
    const reference = await ingest({ text: 'the remark being planned' });
    expect(await planner.handle(reference)).toBe('planned');
    expect(seen).toMatchObject({
      agentId: home.agent_id,
      spaceId: home.space_id,
      event: { event_id: reference.event_id, type: 'transcript', text: 'the remark being planned' },
    });
    expect(seen?.recentEvents.map((e) => e.text)).toEqual(
      expect.arrayContaining(['an earlier remark', 'the remark being planned']),
    );
    expect(seen?.memories.map((m) => m.content)).toContain('an earlier remark');
  });

  it('throws the retryable EventNotFoundYetError for an event id it cannot see (yet)', async () => {
    const reference = { event_id: randomUUID(), agent_id: home.agent_id };
    const error = await planner.handle(reference).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(EventNotFoundYetError);
    expect(error).not.toBeInstanceOf(PoisonMessageError);
    expect(await runsOf(reference.event_id)).toEqual([]);
  });

  it.each<[string, unknown]>([
    ['an event id that is not a uuid', { event_id: 'not-a-uuid', agent_id: randomUUID() }],
    ['no event id', { agent_id: randomUUID() }],
    ['a numeric event id', { event_id: 42, agent_id: randomUUID() }],
    ['null', null],
  ])('throws PoisonMessageError for a malformed reference: %s', async (_what, reference) => {
    const before = await totals();
    await expect(planner.handle(reference as EventReference)).rejects.toBeInstanceOf(PoisonMessageError);
    expect(await totals()).toEqual(before);
  });

  it('throws PoisonMessageError for a reference naming the wrong agent, and writes nothing', async () => {
    const reference = await ingest({ text: 'tell Sam the package arrived' });
    const before = await totals();
    await expect(planner.handle({ event_id: reference.event_id, agent_id: randomUUID() })).rejects.toBeInstanceOf(
      PoisonMessageError,
    );
    expect(await totals()).toEqual(before);
  });

  it('redacts personal data from what it writes: memories, action text and the run output', async () => {
    const text = 'tell Sam to email ada.lovelace@example.com or call 555-123-4567 about card 4111 1111 1111 1111';
    const reference = await ingest({ text });

    expect(await planner.handle(reference)).toBe('planned');

    const memories = await memoriesOf(reference.event_id);
    expect(memories.map((m) => m.content)).toEqual([
      'tell Sam to email [redacted:email] or call [redacted:phone] about card [redacted:card]',
    ]);
    const actions = await actionsOf(reference.event_id);
    expect(actions.map((a) => a.payload)).toEqual([
      { to: 'Sam', text: 'to email [redacted:email] or call [redacted:phone] about card [redacted:card]' },
    ]);
    const written = JSON.stringify([memories, actions, await runsOf(reference.event_id)]);
    for (const secret of ['ada.lovelace@example.com', '555-123-4567', '4111 1111 1111 1111']) {
      expect(written).not.toContain(secret);
    }
  });

  it('redacts personal data from semantic memories too', async () => {
    const reference = await ingest({ text: 'remember that my phone number is +1 555 987 6543' });
    expect(await planner.handle(reference)).toBe('planned');
    const contents = (await memoriesOf(reference.event_id)).map((m) => m.content);
    expect(contents).toContain('My phone number is [redacted:phone]');
    expect(JSON.stringify(contents)).not.toContain('987');
  });

  it('keeps redacted memories within the memory bounds, even when redaction makes the text longer', async () => {
    // 285 short addresses: under the 2000-character memory bound, but each marker is longer than the address it replaces.
    const text = `tell Sam ${Array.from({ length: 285 }, (_, i) => `${String.fromCharCode(97 + (i % 26))}@b.co`).join(' ')}`;
    const reference = await ingest({ text });

    expect(await planner.handle(reference)).toBe('planned');

    const [memory] = await memoriesOf(reference.event_id);
    expect(memory?.content.length).toBeLessThanOrEqual(PLANNER_LIMITS.memoryChars);
    expect(memory?.content.startsWith('tell Sam [redacted:email] [redacted:email]')).toBe(true);
    expect(memory?.content).not.toMatch(/@b\.co/);
    const [action] = await actionsOf(reference.event_id);
    const message = (action?.payload as { text: string }).text;
    expect(message.length).toBeLessThanOrEqual(PLANNER_LIMITS.messageChars);
    expect(message.startsWith('[redacted:email] [redacted:email]')).toBe(true);
  });

  it('leaves an audit chain that verifies, with the ingest, the proposal and the completion recorded in order', async () => {
    const reference = await ingest({ text: 'tell Sam the audit works' });
    expect(await planner.handle(reference)).toBe('planned');
    const [action] = await actionsOf(reference.event_id);

    const verification = await audit.verify(home.agent_id);
    expect(verification.ok).toBe(true);
    expect(verification.reason).toBeUndefined();

    const entries = await agentAudit(home.agent_id);
    expect(verification.entries).toBe(entries.length);
    const mine = entries.filter((e) => e.subject?.id === reference.event_id || e.subject?.id === action?.action_id);
    expect(mine.map((e) => e.action)).toEqual(['event.ingested', 'action.proposed', 'planner.completed']);
    const [ingested, proposed, completed] = mine;
    expect(ingested?.actor).toEqual({ type: 'device', id: home.device_id });
    expect(ingested?.details).toMatchObject({ type: 'transcript', space_id: home.space_id });
    expect(JSON.stringify(ingested)).not.toContain('the audit works');
    expect(proposed?.details).toMatchObject({
      kind: 'send_message',
      required_scopes: ['messages:send'],
      source_event_id: reference.event_id,
    });
    expect(completed?.details).toMatchObject({ action_ids: [action?.action_id], model: 'rules-v1' });
    expect((completed?.details?.['memory_ids'] as string[]).sort()).toEqual(
      (await memoriesOf(reference.event_id)).map((m) => m.memory_id).sort(),
    );

    // The write-once copies under the audit folder hold the same entries.
    const dir = path.join(context.config.auditDir, 'chains', home.agent_id);
    const files = readdirSync(dir).sort();
    expect(files).toHaveLength(entries.length);
    const fromFiles = files.map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as AuditEntryBody);
    expect(fromFiles.map((e) => e.action)).toEqual(entries.map((e) => e.action));
    expect(fromFiles.filter((e) => e.subject?.id === reference.event_id).map((e) => e.action)).toEqual([
      'event.ingested',
      'planner.completed',
    ]);
  });

  it('as the queue worker: plans and acks a queued event, dead-letters a malformed reference, and retries an unknown event', async () => {
    const queue = context.moduleRef.get<MessageQueue>(MESSAGE_QUEUE);
    const consumer = context.moduleRef.get(PlannerConsumer);
    // Earlier tests handled their events directly; their references are still queued.
    while ((await consumer.drainOnce()) > 0) {
      // drain
    }

    const reference = await ingest({ text: 'tell Sam the worker ran' });
    const unknown = { event_id: randomUUID(), agent_id: home.agent_id };
    await queue.send(QueueNames.Transcripts, { event_id: 'garbage', agent_id: home.agent_id });
    await queue.send(QueueNames.Transcripts, unknown);

    const errorLog = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const warnLog = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      expect(await consumer.drainOnce()).toBe(3);
      // The operator can see what happened to each problem message.
      expect(errorLog.mock.calls.map((c) => String(c[0])).join('\n')).toMatch(/dead-lettered as poison/);
      expect(warnLog.mock.calls.map((c) => String(c[0])).join('\n')).toMatch(
        new RegExp(`retrying in \\d+s: EventNotFoundYetError`),
      );
    } finally {
      errorLog.mockRestore();
      warnLog.mockRestore();
    }

    expect((await runsOf(reference.event_id)).map((r) => r.status)).toEqual(['succeeded']);
    expect((await actionsOf(reference.event_id)).map((a) => a.payload)).toEqual([
      { to: 'Sam', text: 'the worker ran' },
    ]);
    const rows = await sql<{ event_id: string; state: string; receive_count: number; last_error: string | null }>`
      SELECT body->>'event_id' AS event_id, state, receive_count, last_error FROM queue_messages
      WHERE queue = ${QueueNames.Transcripts} ORDER BY created_at`.execute(db);
    expect(rows.rows.find((r) => r.event_id === reference.event_id)).toBeUndefined();
    expect(rows.rows.find((r) => r.event_id === 'garbage')).toMatchObject({
      state: 'dead',
      last_error: expect.stringMatching(/^PoisonMessageError/),
    });
    expect(rows.rows.find((r) => r.event_id === unknown.event_id)).toMatchObject({
      state: 'ready',
      receive_count: 1,
      last_error: expect.stringMatching(/^EventNotFoundYetError/),
    });
  });
  it("records an event whose planning was given up (dead-lettered) in its agent's audit chain", async () => {
    const queue = context.moduleRef.get<MessageQueue>(MESSAGE_QUEUE);
    const consumer = context.moduleRef.get(PlannerConsumer);
    while ((await consumer.drainOnce()) > 0) {
      // drain
    }
    const reference = await ingest({ text: 'the model will keep failing on this one' });
    model.script = () => {
      throw new Error('model unavailable');
    };
    // The message has already used all but one of its receives.
    await sql`UPDATE queue_messages SET receive_count = ${context.config.queue.maxReceives - 1}::int WHERE body->>'event_id' = ${reference.event_id}`.execute(
      db,
    );
    const warnLog = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const [message] = await queue.receive(QueueNames.Transcripts, { max: 1, visibilityTimeoutSeconds: 30 });
      expect(message?.body).toEqual(reference);
      expect(await consumer.process(message as never)).toBe('dead');
    } finally {
      warnLog.mockRestore();
    }
    const entries = aboutEvent(await agentAudit(home.agent_id), reference.event_id);
    expect(entries).toEqual(['event.dead_lettered']);
    expect(await runsOf(reference.event_id)).toEqual([]);
  });

  describe('the stream', () => {
    /** The agent's stream entries about one event: the event, its memories and its actions. */
    async function streamedFor(eventId: string): Promise<Array<[string, unknown]>> {
      const entries: StreamEntry[] = await context.moduleRef.get(AgentStream).read(home.agent_id, 1);
      return entries
        .filter((e) => e.data['event_id'] === eventId || e.data['source_event_id'] === eventId)
        .map((e) => [e.topic, e.data['content'] ?? e.data['status'] ?? e.data['type']]);
    }

    it('writes each memory and proposed action of a planned event once, however often and however concurrently it is delivered', async () => {
      const reference = await ingest({ text: 'tell Sam the garden gate is open' });

      const outcomes = await Promise.all([planner.handle(reference), planner.handle(reference)]);
      expect(await planner.handle(reference)).toBe('duplicate');

      expect([...outcomes].sort()).toEqual(['duplicate', 'planned']);
      expect(await streamedFor(reference.event_id)).toEqual([
        ['events.new', 'transcript'],
        ['memories.new', 'tell Sam the garden gate is open'],
        ['actions.updated', 'proposed'],
      ]);
      const [memory] = await memoriesOf(reference.event_id);
      const entries = await context.moduleRef.get(AgentStream).read(home.agent_id, 1, { topics: ['memories.new'] });
      expect(entries.find((e) => e.data['memory_id'] === memory?.memory_id)?.data).toMatchObject({
        ...memory,
        source_event_id: reference.event_id,
      });
    });

    it('writes nothing to the stream for an event whose model run failed', async () => {
      const reference = await ingest({ text: 'tell Sam the model broke' });
      model.script = () => {
        throw new Error('model unavailable');
      };
      await expect(planner.handle(reference)).rejects.toThrow('model unavailable');

      expect(await streamedFor(reference.event_id)).toEqual([['events.new', 'transcript']]);
    });
  });
});
