import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { ErrorCode, type StreamEntry } from '@marvain/contracts';
import { KYSELY, TransactionRunner, type Database } from '@marvain/db';
import { testDatabaseKind } from '@marvain/db/testing';
import { insertAgents, openFeatureTestContext, refused, type FeatureTestContext } from '@marvain/platform/testing';
import { AgentStream } from './agent-stream.service';
import type { NewStreamEntry } from './stream.repository';
import { StreamsModule } from './streams.module';
import { recordPublished, TestStreamPublisherModule, type PublishedRecording } from './testing';

class Rollback extends Error {}

describe(`AgentStream (${testDatabaseKind()})`, () => {
  let context: FeatureTestContext;
  let stream: AgentStream;
  let transactions: TransactionRunner;
  let db: Kysely<Database>;
  let published: PublishedRecording;

  beforeAll(async () => {
    context = await openFeatureTestContext([TestStreamPublisherModule, StreamsModule]);
    stream = context.moduleRef.get(AgentStream);
    transactions = context.moduleRef.get(TransactionRunner);
    db = context.moduleRef.get<Kysely<Database>>(KYSELY);
  });

  beforeEach(() => {
    published = recordPublished(context.moduleRef);
  });

  afterEach(() => published.stop());

  afterAll(() => context.close());

  async function newAgent(): Promise<string> {
    const [agentId] = await insertAgents(db, [`agent-${randomUUID()}`]);
    return agentId;
  }

  async function newSpace(agentId: string): Promise<string> {
    const result = await sql<{ space_id: string }>`
      INSERT INTO spaces (agent_id, name) VALUES (${agentId}::uuid, ${`space-${randomUUID()}`})
      RETURNING space_id`.execute(db);
    return result.rows[0]!.space_id;
  }

  function entry(agentId: string, overrides: Partial<NewStreamEntry> = {}): NewStreamEntry {
    return { agent_id: agentId, topic: 'events.new', space_id: null, data: { n: 0 }, ...overrides };
  }

  const appendCommitted = (e: NewStreamEntry): Promise<StreamEntry> => transactions.run((tx) => stream.append(tx, e));

  const seqs = (entries: readonly StreamEntry[]): number[] => entries.map((e) => e.seq);

  it('numbers each agent’s entries 1, 2, 3… independently of other agents', async () => {
    const [a, b] = [await newAgent(), await newAgent()];

    await appendCommitted(entry(a, { data: { n: 1 } }));
    await appendCommitted(entry(b, { data: { n: 1 } }));
    await appendCommitted(entry(a, { data: { n: 2 } }));
    await appendCommitted(entry(a, { data: { n: 3 } }));
    await appendCommitted(entry(b, { data: { n: 2 } }));

    const ofA = await stream.read(a, 1);
    const ofB = await stream.read(b, 1);
    expect(ofA.map((e) => [e.seq, e.data['n']])).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
    expect(ofB.map((e) => [e.seq, e.data['n']])).toEqual([
      [1, 1],
      [2, 2],
    ]);
    expect(await stream.head(a)).toBe(3);
    expect(await stream.head(b)).toBe(2);
    expect(await stream.head(await newAgent())).toBe(0);
  });

  it('returns the written entry as readers see it, with the commit’s time', async () => {
    const agentId = await newAgent();
    const spaceId = await newSpace(agentId);

    const written = await appendCommitted(
      entry(agentId, { topic: 'actions.updated', space_id: spaceId, data: { action_id: 'x', nested: { ok: true } } }),
    );

    expect(written).toEqual({
      seq: 1,
      agent_id: agentId,
      topic: 'actions.updated',
      space_id: spaceId,
      data: { action_id: 'x', nested: { ok: true } },
      at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
    });
    expect(await stream.read(agentId, 1)).toEqual([written]);
  });

  it('takes no seq for a rolled-back append: the next committed one gets it', async () => {
    const agentId = await newAgent();

    await expect(
      transactions.run(async (tx) => {
        await stream.append(tx, entry(agentId, { data: { n: 'rolled back' } }));
        throw new Rollback('the change failed');
      }),
    ).rejects.toBeInstanceOf(Rollback);
    await appendCommitted(entry(agentId, { data: { n: 'kept' } }));

    const entries = await stream.read(agentId, 1);
    expect(entries.map((e) => [e.seq, e.data['n']])).toEqual([[1, 'kept']]);
    expect(await stream.head(agentId)).toBe(1);
  });

  it('leaves a gap-free 1..N of the committed ones when 20 transactions append at once and some roll back', async () => {
    const agentId = await newAgent();
    const rollsBack = (i: number): boolean => i % 3 === 1;

    const outcomes = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        transactions.run(async (tx) => {
          const written = await stream.append(tx, entry(agentId, { data: { i } }));
          // More work in the same transaction after the append, as a real change has.
          await sql`SELECT 1`.execute(tx.db);
          if (rollsBack(i)) {
            throw new Rollback(`change ${i} failed`);
          }
          return written;
        }),
      ),
    );

    const committed = Array.from({ length: 20 }, (_, i) => i).filter((i) => !rollsBack(i));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(committed.length);
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') {
        expect(outcome.reason).toBeInstanceOf(Rollback);
      }
    }
    const entries = await stream.read(agentId, 1);
    expect(seqs(entries)).toEqual(committed.map((_, k) => k + 1));
    expect(entries.map((e) => e.data['i']).sort((x, y) => Number(x) - Number(y))).toEqual(committed);
    expect(await stream.head(agentId)).toBe(committed.length);
    // What the callers were told is what was stored.
    const told = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
    expect([...told].sort((x, y) => x.seq - y.seq)).toEqual(entries);
    // Published: exactly the committed entries, never a rolled-back one.
    const heard = published.entries.filter((e) => e.agent_id === agentId);
    expect([...heard].sort((x, y) => x.seq - y.seq)).toEqual(entries);
  });

  it('publishes an entry only once its transaction commits, and never when it rolls back', async () => {
    const agentId = await newAgent();
    let publishedBeforeCommit = -1;

    const written = await transactions.run(async (tx) => {
      const appended = await stream.append(tx, entry(agentId, { data: { n: 'committed' } }));
      publishedBeforeCommit = published.entries.length;
      return appended;
    });
    expect(publishedBeforeCommit).toBe(0);
    expect(published.entries).toEqual([written]);

    await expect(
      transactions.run(async (tx) => {
        await stream.append(tx, entry(agentId, { data: { n: 'rolled back' } }));
        throw new Rollback('the change failed');
      }),
    ).rejects.toBeInstanceOf(Rollback);
    expect(published.entries).toEqual([written]);
  });

  describe('read', () => {
    let agentId: string;
    let kitchen: string;
    let office: string;

    beforeAll(async () => {
      agentId = await newAgent();
      kitchen = await newSpace(agentId);
      office = await newSpace(agentId);
      const plan: Array<Pick<NewStreamEntry, 'topic' | 'space_id'>> = [
        { topic: 'events.new', space_id: kitchen }, // 1
        { topic: 'actions.updated', space_id: kitchen }, // 2
        { topic: 'events.new', space_id: office }, // 3
        { topic: 'memories.new', space_id: null }, // 4
        { topic: 'events.new', space_id: kitchen }, // 5
        { topic: 'presence.updated', space_id: office }, // 6
        { topic: 'actions.updated', space_id: null }, // 7
      ];
      for (const [i, step] of plan.entries()) {
        await appendCommitted(entry(agentId, { ...step, data: { step: i + 1 } }));
      }
    });

    it('reads from from_seq (inclusive), oldest first', async () => {
      expect(seqs(await stream.read(agentId, 1))).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(seqs(await stream.read(agentId, 5))).toEqual([5, 6, 7]);
      expect(seqs(await stream.read(agentId, 7))).toEqual([7]);
      expect(await stream.read(agentId, 8)).toEqual([]);
    });

    it('keeps only the topics asked for', async () => {
      expect(seqs(await stream.read(agentId, 1, { topics: ['events.new'] }))).toEqual([1, 3, 5]);
      expect(seqs(await stream.read(agentId, 2, { topics: ['actions.updated', 'memories.new'] }))).toEqual([2, 4, 7]);
      expect(await stream.read(agentId, 1, { topics: [] })).toEqual([]);
    });

    it('keeps only the space asked for', async () => {
      expect(seqs(await stream.read(agentId, 1, { spaceId: kitchen }))).toEqual([1, 2, 5]);
      expect(seqs(await stream.read(agentId, 1, { spaceId: office, topics: ['events.new'] }))).toEqual([3]);
    });

    it('returns at most `limit` entries, so a reader pages on from the last seq it got', async () => {
      const first = await stream.read(agentId, 1, {}, 3);
      expect(seqs(first)).toEqual([1, 2, 3]);
      const next = await stream.read(agentId, first[first.length - 1]!.seq + 1, {}, 3);
      expect(seqs(next)).toEqual([4, 5, 6]);
      expect(seqs(await stream.read(agentId, 2, { topics: ['events.new'] }, 1))).toEqual([3]);
    });

    it('reads nothing of another agent', async () => {
      const other = await newAgent();
      await appendCommitted(entry(other, { space_id: null }));
      expect((await stream.read(agentId, 1)).every((e) => e.agent_id === agentId)).toBe(true);
      expect(seqs(await stream.read(other, 1))).toEqual([1]);
    });
  });

  describe('retention', () => {
    it('prunes entries older than the cutoff but keeps each agent’s newest, then answers stream_expired naming the oldest seq', async () => {
      const [a, b] = [await newAgent(), await newAgent()];
      for (let i = 1; i <= 4; i++) {
        await appendCommitted(entry(a, { data: { n: i } }));
      }
      await appendCommitted(entry(b, { data: { n: 1 } }));

      // A cutoff before everything deletes nothing.
      expect(await stream.prune(new Date(Date.now() - 3_600_000))).toBe(0);
      expect(seqs(await stream.read(a, 1))).toEqual([1, 2, 3, 4]);

      // A cutoff after everything deletes all but each agent's newest entry.
      const deleted = await stream.prune(new Date(Date.now() + 3_600_000));
      expect(deleted).toBeGreaterThanOrEqual(3);
      expect(seqs(await stream.read(a, 4))).toEqual([4]);
      expect(seqs(await stream.read(b, 1))).toEqual([1]);

      for (const fromSeq of [0, 1, 3]) {
        const error = await refused(stream.read(a, fromSeq), ErrorCode.StreamExpired);
        expect(error.details).toEqual({ oldest_seq: 4 });
      }

      // The stream goes on from its head; a reader resuming at the oldest seq misses nothing.
      await appendCommitted(entry(a, { data: { n: 5 } }));
      expect((await stream.read(a, 4)).map((e) => [e.seq, e.data['n']])).toEqual([
        [4, 4],
        [5, 5],
      ]);
    });

    it('does not refuse a reader of an agent with no entries yet', async () => {
      const agentId = await newAgent();
      expect(await stream.read(agentId, 1)).toEqual([]);
      expect(await stream.read(agentId, 0)).toEqual([]);
    });
  });
});
