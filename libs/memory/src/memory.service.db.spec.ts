import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { ErrorCode, type Principal, type StreamEntry } from '@marvain/contracts';
import { asUuid, DatabaseInfo, KYSELY, TransactionRunner, vectorAvailable, type Database } from '@marvain/db';
import { testDatabaseEngine, testDatabaseKind } from '@marvain/db/testing';
import { openFeatureTestContext, refused, type FeatureTestContext } from '@marvain/platform/testing';
import { AuditService } from '@marvain/audit';
import { BootstrapService, IdentityModule, PrincipalResolver, type BootstrapResult } from '@marvain/identity';
import { AgentStream } from '@marvain/streams';
import { recordPublished, TestStreamPublisherModule } from '@marvain/streams/testing';
import { FeatureHashingEmbedder } from './embedder';
import type { MemoryView } from './memory.dto';
import { MemoryModule } from './memory.module';
import { MemoryService } from './memory.service';

type NewMemoryInput = Parameters<MemoryService['write']>[1][number];

/** True for anything that looks like an embedding: a long list of numbers, or pgvector's text form. */
function looksLikeVector(value: unknown): boolean {
  if (Array.isArray(value)) {
    return value.length >= 16 && value.every((x) => typeof x === 'number');
  }
  if (typeof value === 'string') {
    return /^\s*\[\s*-?\d+(\.\d+)?(e-?\d+)?\s*(,\s*-?\d+(\.\d+)?(e-?\d+)?\s*){15,}\]\s*$/i.test(value);
  }
  return false;
}

function expectNoVectors(value: unknown, path = '$'): void {
  if (looksLikeVector(value)) {
    throw new Error(`${path} looks like a vector`);
  }
  if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      expect(key).not.toBe('embedding');
      expectNoVectors(inner, `${path}.${key}`);
    }
  }
}

describe(`MemoryService (${testDatabaseKind()})`, () => {
  let context: FeatureTestContext;
  let memories: MemoryService;
  let transactions: TransactionRunner;
  let db: Kysely<Database>;
  let info: DatabaseInfo;
  let home: BootstrapResult;
  let other: BootstrapResult;
  let owner: Principal;
  let outsider: Principal;
  let device: Principal;

  beforeAll(async () => {
    context = await openFeatureTestContext([TestStreamPublisherModule, IdentityModule, MemoryModule], {
      // Let the audit copies finish before the database goes away.
      beforeClose: (moduleRef) => moduleRef.get(AuditService, { strict: false }).flush(),
    });
    memories = context.moduleRef.get(MemoryService);
    transactions = context.moduleRef.get(TransactionRunner);
    db = context.moduleRef.get<Kysely<Database>>(KYSELY);
    info = context.moduleRef.get(DatabaseInfo);
    const bootstrap = context.moduleRef.get(BootstrapService, { strict: false });
    const resolver = context.moduleRef.get(PrincipalResolver, { strict: false });
    home = await bootstrap.bootstrap({ agentName: 'Home', spaceName: 'Kitchen' });
    other = await bootstrap.bootstrap({ agentName: 'Other', spaceName: 'Office' });
    owner = await resolver.resolve(home.user_token);
    outsider = await resolver.resolve(other.user_token);
    device = await resolver.resolve(home.device_token);
  });

  afterAll(() => context.close());

  function memory(overrides: Partial<NewMemoryInput> & { content: string }): NewMemoryInput {
    return {
      memory_id: randomUUID(),
      agent_id: home.agent_id,
      space_id: home.space_id,
      tier: 'episodic',
      source_event_id: null,
      provenance: { test: true },
      ...overrides,
    };
  }

  /** Writes each memory in its own transaction, in order, so each is strictly newer than the one before. */
  async function writeInOrder(items: NewMemoryInput[]): Promise<void> {
    for (const item of items) {
      await transactions.run((tx) => memories.write(tx, [item]));
    }
  }

  async function embeddingColumnExists(): Promise<boolean> {
    const result = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name = 'memories' AND column_name = 'embedding'`.execute(db);
    return result.rows[0]?.n === 1;
  }

  it('knows whether the database has vector search, and has the embedding column exactly then', async () => {
    expect(info.vector).toBe(await vectorAvailable(db));
    expect(await embeddingColumnExists()).toBe(info.vector);
    // Embedded PGlite ships pgvector (also behind the local Data API endpoint); this machine's PostgreSQL 15 does not.
    if (testDatabaseEngine() === 'pglite') {
      expect(info.vector).toBe(true);
      expect(await embeddingColumnExists()).toBe(true);
    }
  });

  it("stores the embedding of each memory's content where vector search exists, and still stores the memory where it does not", async () => {
    const written = memory({ content: 'Sam likes green tea in the morning', tier: 'semantic', space_id: null });
    const count = await transactions.run((tx) => memories.write(tx, [written]));
    expect(count).toBe(1);

    const row = await db
      .selectFrom('memories')
      .select(['content', 'tier'])
      .where('memory_id', '=', asUuid(written.memory_id))
      .executeTakeFirst();
    expect(row).toEqual({ content: 'Sam likes green tea in the morning', tier: 'semantic' });

    if (info.vector) {
      const stored = await sql<{ has: boolean; text: string }>`
        SELECT embedding IS NOT NULL AS has, embedding::text AS text FROM memories WHERE memory_id = ${written.memory_id}::uuid`.execute(
        db,
      );
      expect(stored.rows[0]?.has).toBe(true);
      const vector = JSON.parse(stored.rows[0]?.text ?? '[]') as number[];
      const [expected] = await new FeatureHashingEmbedder().embed([written.content]);
      expect(vector).toHaveLength(256);
      vector.forEach((x, i) => expect(x).toBeCloseTo((expected as number[])[i] as number, 5));
    } else {
      await expect(sql`SELECT embedding FROM memories LIMIT 1`.execute(db)).rejects.toThrow(/embedding/);
    }
  });

  it('stores embeddings for every memory of a batch', async () => {
    const batch = [
      memory({ content: 'first of a batch' }),
      memory({ content: 'second of a batch' }),
      memory({ content: 'third', tier: 'semantic' }),
    ];
    expect(await transactions.run((tx) => memories.write(tx, batch))).toBe(3);
    if (!info.vector) {
      return;
    }
    const ids = batch.map((m) => m.memory_id);
    const result = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM memories WHERE embedding IS NOT NULL AND memory_id::text IN (${sql.join(ids)})`.execute(
      db,
    );
    expect(result.rows[0]?.n).toBe(3);
  });

  it('writes nothing twice when the same memory ids are written again (a retried write-back)', async () => {
    const first = memory({ content: 'retried write-back' });
    expect(await transactions.run((tx) => memories.write(tx, [first]))).toBe(1);
    expect(await transactions.run((tx) => memories.write(tx, [first, { ...first, content: 'a changed retry' }]))).toBe(
      0,
    );
    const rows = await db
      .selectFrom('memories')
      .select('content')
      .where('memory_id', '=', asUuid(first.memory_id))
      .execute();
    expect(rows).toEqual([{ content: 'retried write-back' }]);
  });

  it('writes nothing when the surrounding transaction rolls back', async () => {
    const lost = memory({ content: 'never committed' });
    await expect(
      transactions.run(async (tx) => {
        await memories.write(tx, [lost]);
        throw new Error('planner failed after writing');
      }),
    ).rejects.toThrow('planner failed after writing');
    const rows = await db
      .selectFrom('memories')
      .select('memory_id')
      .where('memory_id', '=', asUuid(lost.memory_id))
      .execute();
    expect(rows).toEqual([]);
  });

  it('never returns an embedding, or anything that looks like a vector, from list', async () => {
    await writeInOrder([
      memory({ content: 'listable one' }),
      memory({ content: 'listable two', tier: 'semantic', space_id: null }),
    ]);
    const views: MemoryView[] = [];
    for (const query of [
      { agent_id: home.agent_id },
      { agent_id: home.agent_id, tier: 'semantic' as const },
      { agent_id: home.agent_id, space_id: home.space_id, limit: 200 },
    ]) {
      const list = await memories.list(owner, query);
      expect(list.memories.length).toBeGreaterThan(0);
      views.push(...list.memories);
    }
    for (const view of views) {
      expect(Object.keys(view).sort()).toEqual([
        'agent_id',
        'content',
        'created_at',
        'memory_id',
        'provenance',
        'source_event_id',
        'space_id',
        'tier',
      ]);
      expectNoVectors(view);
    }
    expect(JSON.stringify(views)).not.toMatch(/embedding/);
    // The same holds for what the planner reads as context.
    for (const row of await memories.recent(home.agent_id, 50)) {
      expect(row).not.toHaveProperty('embedding');
      expectNoVectors(row);
    }
  });

  it('lists newest first, filters by tier and by space, and respects the limit', async () => {
    // A fresh agent so earlier tests' memories do not interfere.
    const bootstrap = context.moduleRef.get(BootstrapService, { strict: false });
    const fresh = await bootstrap.bootstrap({ agentName: 'Fresh', spaceName: 'Porch', ownerUserId: home.user_id });
    const shed = await sql<{ space_id: string }>`
      INSERT INTO spaces (agent_id, name) VALUES (${fresh.agent_id}::uuid, 'Shed') RETURNING space_id`.execute(db);
    const shedId = shed.rows[0]?.space_id as string;
    const principal = await context.moduleRef.get(PrincipalResolver, { strict: false }).resolve(fresh.user_token);
    const on = { agent_id: fresh.agent_id };
    await writeInOrder([
      memory({ ...on, content: 'm1 porch episodic', space_id: fresh.space_id }),
      memory({ ...on, content: 'm2 semantic', tier: 'semantic', space_id: null }),
      memory({ ...on, content: 'm3 shed episodic', space_id: shedId }),
      memory({ ...on, content: 'm4 porch episodic', space_id: fresh.space_id }),
      memory({ ...on, content: 'm5 semantic', tier: 'semantic', space_id: null }),
    ]);
    const contents = async (query: Omit<Parameters<MemoryService['list']>[1], 'agent_id'>): Promise<string[]> =>
      (await memories.list(principal, { agent_id: fresh.agent_id, ...query })).memories.map((m) => m.content);

    expect(await contents({})).toEqual([
      'm5 semantic',
      'm4 porch episodic',
      'm3 shed episodic',
      'm2 semantic',
      'm1 porch episodic',
    ]);
    expect(await contents({ tier: 'semantic' })).toEqual(['m5 semantic', 'm2 semantic']);
    expect(await contents({ tier: 'episodic' })).toEqual([
      'm4 porch episodic',
      'm3 shed episodic',
      'm1 porch episodic',
    ]);
    expect(await contents({ space_id: fresh.space_id })).toEqual(['m4 porch episodic', 'm1 porch episodic']);
    expect(await contents({ space_id: shedId, tier: 'episodic' })).toEqual(['m3 shed episodic']);
    expect(await contents({ space_id: shedId, tier: 'semantic' })).toEqual([]);
    expect(await contents({ limit: 2 })).toEqual(['m5 semantic', 'm4 porch episodic']);
    expect(await contents({ tier: 'episodic', limit: 1 })).toEqual(['m4 porch episodic']);

    const list = await memories.list(principal, { agent_id: fresh.agent_id, limit: 1 });
    expect(list.memories[0]).toMatchObject({
      agent_id: fresh.agent_id,
      tier: 'semantic',
      space_id: null,
      source_event_id: null,
      provenance: { test: true },
    });
    expect(new Date(list.memories[0]?.created_at as string).toISOString()).toBe(list.memories[0]?.created_at);
  });

  it("never lists another agent's memories, not even when asked for that agent's space", async () => {
    await writeInOrder([memory({ agent_id: other.agent_id, space_id: other.space_id, content: 'other agent secret' })]);
    const mine = await memories.list(owner, { agent_id: home.agent_id, limit: 200 });
    expect(mine.memories.length).toBeGreaterThan(0);
    expect(mine.memories.every((m) => m.agent_id === home.agent_id)).toBe(true);
    const viaForeignSpace = await memories.list(owner, { agent_id: home.agent_id, space_id: other.space_id });
    expect(viaForeignSpace.memories).toEqual([]);
  });

  it('answers not_found to a principal without membership of the agent, like an agent that does not exist', async () => {
    for (const agentId of [home.agent_id, randomUUID()]) {
      const error = await refused(memories.list(outsider, { agent_id: agentId }));
      expect(error.code).toBe(ErrorCode.NotFound);
      expect(error.message).not.toMatch(/listable|secret/);
    }
  });

  it('forbids a member principal that lacks memories:read (a satellite device)', async () => {
    const error = await refused(memories.list(device, { agent_id: home.agent_id }));
    expect(error.code).toBe(ErrorCode.Forbidden);
  });

  it('returns at most 50 memories when no limit is given', async () => {
    const bootstrap = context.moduleRef.get(BootstrapService, { strict: false });
    const busy = await bootstrap.bootstrap({ agentName: 'Busy', spaceName: 'Hall', ownerUserId: home.user_id });
    const principal = await context.moduleRef.get(PrincipalResolver, { strict: false }).resolve(busy.user_token);
    const many = Array.from({ length: 55 }, (_, i) =>
      memory({ agent_id: busy.agent_id, space_id: busy.space_id, content: `note ${i}` }),
    );
    await transactions.run((tx) => memories.write(tx, many));
    expect((await memories.list(principal, { agent_id: busy.agent_id })).memories).toHaveLength(50);
    expect((await memories.list(principal, { agent_id: busy.agent_id, limit: 200 })).memories).toHaveLength(55);
  });

  describe('the memories.new stream', () => {
    /** The stream entries about these memories, oldest first. */
    async function entriesFor(agentId: string, memoryIds: readonly string[]): Promise<StreamEntry[]> {
      const entries = await context.moduleRef.get(AgentStream).read(agentId, 1, { topics: ['memories.new'] });
      return entries.filter((e) => memoryIds.includes(e.data['memory_id'] as string));
    }

    it('writes one entry per memory written, carrying its listed view without the embedding, published once committed', async () => {
      const batch = [
        memory({ content: 'streamed episodic' }),
        memory({ content: 'streamed semantic', tier: 'semantic', space_id: null }),
      ];
      const published = recordPublished(context.moduleRef);
      await transactions.run((tx) => memories.write(tx, batch));
      published.stop();

      const entries = await entriesFor(
        home.agent_id,
        batch.map((m) => m.memory_id),
      );
      const listed = (await memories.list(owner, { agent_id: home.agent_id, limit: 200 })).memories;
      const viewOf = (id: string): MemoryView | undefined => listed.find((m) => m.memory_id === id);
      expect(entries.map((e) => [e.topic, e.space_id, e.data])).toEqual([
        ['memories.new', home.space_id, viewOf(batch[0]!.memory_id)],
        ['memories.new', null, viewOf(batch[1]!.memory_id)],
      ]);
      expect(entries[1]!.seq).toBe(entries[0]!.seq + 1);
      for (const entry of entries) {
        expectNoVectors(entry);
      }
      expect(published.entries).toEqual(entries);
    });

    it('writes nothing for a memory a retried write-back writes again, nor when the transaction rolls back', async () => {
      const first = memory({ content: 'streamed once' });
      const fresh = memory({ content: 'new in the retry' });
      await transactions.run((tx) => memories.write(tx, [first]));
      expect(await transactions.run((tx) => memories.write(tx, [first, fresh]))).toBe(1);

      const entries = await entriesFor(home.agent_id, [first.memory_id, fresh.memory_id]);
      expect(entries.map((e) => e.data['content'])).toEqual(['streamed once', 'new in the retry']);

      const lost = memory({ content: 'never streamed' });
      const published = recordPublished(context.moduleRef);
      await expect(
        transactions.run(async (tx) => {
          await memories.write(tx, [lost]);
          throw new Error('planner failed after writing');
        }),
      ).rejects.toThrow('planner failed after writing');
      published.stop();
      expect(await entriesFor(home.agent_id, [lost.memory_id])).toEqual([]);
      expect(published.entries).toEqual([]);
    });
  });
});
