import { sql } from 'kysely';
import { QueueNames, type QueueName } from '@marvain/contracts';
import { TransactionRunner } from '@marvain/db';
import { createTestDatabase, testDatabaseKind, type TestDatabase } from '@marvain/db/testing';
import type { ReceivedMessage } from './message-queue';
import { ProcessReceiver } from './queue-receiver';
import { TableQueue } from './table-queue';

type Body = Record<string, unknown>;
const Q: QueueName = QueueNames.Transcripts;
const OTHER: QueueName = QueueNames.Actions;
const MAX_RECEIVES = 3;
/** Long enough that nothing reappears by itself during a test. */
const LONG = { max: 10, visibilityTimeoutSeconds: 60 };
/** Visible again at once: anything still in circulation comes straight back. */
const IMMEDIATE = { max: 10, visibilityTimeoutSeconds: 0 };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

jest.setTimeout(60_000);

/** The one message a receive returned (fails the test when there is none). */
function only<T>(messages: ReceivedMessage<T>[]): ReceivedMessage<T> {
  expect(messages).toHaveLength(1);
  return messages[0] as ReceivedMessage<T>;
}

function atLeastOne<T>(messages: ReceivedMessage<T>[]): [ReceivedMessage<T>, ...ReceivedMessage<T>[]] {
  expect(messages.length).toBeGreaterThan(0);
  return messages as [ReceivedMessage<T>, ...ReceivedMessage<T>[]];
}

describe(`TableQueue (${testDatabaseKind()})`, () => {
  let handle: TestDatabase;
  let queue: TableQueue;

  beforeAll(async () => {
    handle = await createTestDatabase();
  });
  afterAll(async () => handle.close());

  beforeEach(async () => {
    await sql`DELETE FROM queue_messages`.execute(handle.db);
    queue = new TableQueue(handle.db, MAX_RECEIVES);
  });

  async function lastError(id: string): Promise<string | null> {
    const row = await sql<{
      last_error: string | null;
    }>`SELECT last_error FROM queue_messages WHERE message_id = ${id}::uuid`.execute(handle.db);
    return row.rows[0]?.last_error ?? null;
  }

  it('delivers what was sent, counting the first receive as 1', async () => {
    await queue.send(Q, { event_id: 'e1', nested: { n: 1, list: [1, 'two'] } });
    const [message, ...rest] = atLeastOne(await queue.receive(Q, LONG));
    expect(rest).toEqual([]);
    expect(message.body).toEqual({ event_id: 'e1', nested: { n: 1, list: [1, 'two'] } });
    expect(message.receiveCount).toBe(1);
    expect(typeof message.id).toBe('string');
    expect(typeof message.receipt).toBe('string');
  });

  it('keeps messages apart per queue', async () => {
    await queue.send(OTHER, { which: 'other' });
    expect(await queue.receive(Q, LONG)).toEqual([]);
    const received = await queue.receive(OTHER, LONG);
    expect(received.map((m) => m.body)).toEqual([{ which: 'other' }]);
  });

  it('does not deliver a delayed message before its delay', async () => {
    await queue.send(Q, { n: 1 }, { delaySeconds: 60 });
    expect(await queue.receive(Q, LONG)).toEqual([]);
    expect(await queue.depth(Q)).toEqual({ ready: 1, dead: 0 });
  });

  it('hides a received message until its visibility timeout passes, then delivers it again with a new receipt; only the current receipt acks', async () => {
    await queue.send(Q, { n: 1 });
    const first = only(await queue.receive(Q, { max: 10, visibilityTimeoutSeconds: 1 }));
    expect(first.receiveCount).toBe(1);
    expect(await queue.receive(Q, LONG)).toEqual([]);

    await sleep(1200);
    const [second, ...rest] = atLeastOne(await queue.receive(Q, LONG));
    expect(rest).toEqual([]);
    expect(second.id).toBe(first.id);
    expect(second.body).toEqual({ n: 1 });
    expect(second.receiveCount).toBe(2);
    expect(second.receipt).not.toBe(first.receipt);

    // The first consumer finishing late must not delete the message the second one now holds.
    await queue.ack(Q, first);
    expect(await queue.depth(Q)).toEqual({ ready: 1, dead: 0 });

    await queue.ack(Q, second);
    expect(await queue.depth(Q)).toEqual({ ready: 0, dead: 0 });
    expect(await queue.receive(Q, IMMEDIATE)).toEqual([]);
  });

  it('an acked message is never received again', async () => {
    await queue.send(Q, { n: 1 });
    const message = only(await queue.receive(Q, IMMEDIATE));
    await queue.ack(Q, message);
    expect(await queue.receive(Q, IMMEDIATE)).toEqual([]);
  });

  it('retry() with delay 0 makes the message visible again, and after maxReceives receives it dead-letters it for good', async () => {
    await queue.send(Q, { n: 1 });
    const outcomes: string[] = [];
    const counts: number[] = [];
    for (let i = 0; i < MAX_RECEIVES; i++) {
      const message = only(await queue.receive(Q, LONG));
      expect(message).toBeDefined();
      counts.push(message.receiveCount);
      outcomes.push(await queue.retry(Q, message, { delaySeconds: 0, error: `failure ${i + 1}` }));
    }
    expect(counts).toEqual([1, 2, 3]);
    expect(outcomes).toEqual(['retrying', 'retrying', 'dead']);
    expect(await queue.receive(Q, IMMEDIATE)).toEqual([]);
    expect(await queue.depth(Q)).toEqual({ ready: 0, dead: 1 });
  });

  it('retry() with a delay keeps the message hidden for that delay and records the error', async () => {
    await queue.send(Q, { n: 1 });
    const message = only(await queue.receive(Q, IMMEDIATE));
    expect(await queue.retry(Q, message, { delaySeconds: 60, error: 'Error: upstream down' })).toBe('retrying');
    expect(await queue.receive(Q, IMMEDIATE)).toEqual([]);
    expect(await lastError(message.id)).toBe('Error: upstream down');
  });

  it('moves a message whose consumer crashed on every allowed receive to the dead letters on the next receive', async () => {
    const twice = new TableQueue(handle.db, 2);
    await twice.send(Q, { n: 1 });
    const first = only(await twice.receive(Q, { max: 10, visibilityTimeoutSeconds: 1 }));
    expect(first.receiveCount).toBe(1);
    await sleep(1200);
    const second = only(await twice.receive(Q, { max: 10, visibilityTimeoutSeconds: 1 }));
    expect(second.receiveCount).toBe(2);
    await sleep(1200);

    // Its receives are used up: the next receive dead-letters it instead of handing it out a third time.
    expect(await twice.receive(Q, IMMEDIATE)).toEqual([]);
    expect(await twice.depth(Q)).toEqual({ ready: 0, dead: 1 });
    expect(await lastError(first.id)).toMatch(/visibility timeout/);
    expect(await twice.receive(Q, IMMEDIATE)).toEqual([]);
  });

  it('deadLetter() takes a message out of circulation', async () => {
    await queue.send(Q, { poison: true });
    const message = only(await queue.receive(Q, IMMEDIATE));
    await queue.deadLetter(Q, message, 'PoisonMessageError: unparseable');
    expect(await queue.receive(Q, IMMEDIATE)).toEqual([]);
    expect(await queue.depth(Q)).toEqual({ ready: 0, dead: 1 });
    expect(await lastError(message.id)).toBe('PoisonMessageError: unparseable');
  });

  it('drops a second send with the same dedup key while the first is queued, and accepts it again once the first is gone', async () => {
    await queue.send(Q, { attempt: 1 }, { dedupKey: 'event:e1' });
    await queue.send(Q, { attempt: 2 }, { dedupKey: 'event:e1' });
    await queue.send(Q, { attempt: 3 }, { dedupKey: 'event:e2' });
    await queue.send(OTHER, { attempt: 4 }, { dedupKey: 'event:e1' });
    expect(await queue.depth(Q)).toEqual({ ready: 2, dead: 0 });
    expect(await queue.depth(OTHER)).toEqual({ ready: 1, dead: 0 });

    const received = await queue.receive<Body>(Q, LONG);
    expect(received.map((m) => m.body).sort((a, b) => Number(a['attempt']) - Number(b['attempt']))).toEqual([
      { attempt: 1 },
      { attempt: 3 },
    ]);

    // While held by a consumer it is still queued: a duplicate is still dropped.
    await queue.send(Q, { attempt: 5 }, { dedupKey: 'event:e1' });
    expect(await queue.depth(Q)).toEqual({ ready: 2, dead: 0 });

    for (const message of received) {
      await queue.ack(Q, message);
    }
    await queue.send(Q, { attempt: 6 }, { dedupKey: 'event:e1' });
    expect((await queue.receive(Q, LONG)).map((m) => m.body)).toEqual([{ attempt: 6 }]);
  });

  it('a send inside a transaction is invisible to others until commit, and only then notifies listeners', async () => {
    const runner = new TransactionRunner(handle.db);
    const notified: QueueName[] = [];
    queue.onSent((name) => notified.push(name));
    let committed = false;
    let outside: Promise<{ messages: ReceivedMessage[]; before: boolean }> | undefined;
    let notifiedInside: QueueName[] = [];

    await runner.run(async (tx) => {
      await queue.send(Q, { n: 1 }, { tx });
      notifiedInside = [...notified];
      // Another connection looks while the transaction is open (PGlite's single connection makes it wait instead).
      outside = queue.receive<Body>(Q, LONG).then((messages) => ({ messages, before: !committed }));
      await sleep(300);
      committed = true;
    });

    expect(notifiedInside).toEqual([]);
    expect(notified).toEqual([Q]);
    const seen = await (outside as NonNullable<typeof outside>);
    const seenBeforeCommit = seen.before ? seen.messages : [];
    expect(seenBeforeCommit).toEqual([]);
    const after = await queue.receive(Q, LONG);
    expect([...seen.messages, ...after].map((m) => m.body)).toEqual([{ n: 1 }]);
  });

  it('a send inside a transaction that rolls back leaves nothing and notifies nobody', async () => {
    const runner = new TransactionRunner(handle.db);
    const notified: QueueName[] = [];
    queue.onSent((name) => notified.push(name));

    await expect(
      runner.run(async (tx) => {
        await queue.send(Q, { n: 1 }, { tx });
        throw new Error('handler failed after sending');
      }),
    ).rejects.toThrow('handler failed after sending');

    expect(notified).toEqual([]);
    expect(await queue.receive(Q, IMMEDIATE)).toEqual([]);
    expect(await queue.depth(Q)).toEqual({ ready: 0, dead: 0 });
  });

  it('notifies listeners at once for a send outside a transaction', async () => {
    const notified: QueueName[] = [];
    queue.onSent((name) => notified.push(name));
    await queue.send(OTHER, { n: 1 });
    expect(notified).toEqual([OTHER]);
  });

  it('never hands the same message to two concurrent receivers', async () => {
    for (let i = 0; i < 20; i++) {
      await queue.send(Q, { i });
    }
    const receiver = async (): Promise<ReceivedMessage[]> => {
      const got: ReceivedMessage[] = [];
      for (;;) {
        const batch = await queue.receive<Body>(Q, { max: 2, visibilityTimeoutSeconds: 60 });
        if (batch.length === 0) {
          return got;
        }
        got.push(...batch);
      }
    };
    const results = await Promise.all([receiver(), receiver(), receiver(), receiver()]);
    const all = results.flat();
    const ids = all.map((m) => m.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(all.map((m) => Number(m.body['i'])).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(all.every((m) => m.receiveCount === 1)).toBe(true);
    expect(await queue.receive(Q, LONG)).toEqual([]);
  });

  it('depth() counts ready (including in-flight) and dead messages per queue', async () => {
    expect(await queue.depth(Q)).toEqual({ ready: 0, dead: 0 });
    await queue.send(Q, { n: 1 });
    await queue.send(Q, { n: 2 });
    await queue.send(Q, { n: 3 });
    await queue.send(OTHER, { n: 4 });
    const message = only(await queue.receive(Q, { max: 1, visibilityTimeoutSeconds: 60 }));
    expect(await queue.depth(Q)).toEqual({ ready: 3, dead: 0 });
    await queue.deadLetter(Q, message, 'poison');
    expect(await queue.depth(Q)).toEqual({ ready: 2, dead: 1 });
    expect(await queue.depth(OTHER)).toEqual({ ready: 1, dead: 0 });
  });

  describe('reclaiming what a crashed process held', () => {
    const DATA_DIR = '/srv/marvain-a';
    /** A process of the hub over DATA_DIR on this host; `running` says which pids are alive. */
    const processOf = (pid: number, running: Set<number>, dataDir = DATA_DIR): TableQueue =>
      new TableQueue(handle.db, MAX_RECEIVES, new ProcessReceiver(dataDir, pid, (p) => running.has(p), 'host-1'));

    it("makes a dead predecessor's messages visible now, without counting another receive", async () => {
      const running = new Set([200]);
      const crashed = processOf(100, running);
      await crashed.send(Q, { n: 1 });
      await crashed.send(Q, { n: 2 });
      const held = await crashed.receive<Body>(Q, LONG);
      expect(held).toHaveLength(2);

      const restarted = processOf(200, running);
      expect(await restarted.receive(Q, LONG)).toEqual([]); // hidden for 60 s without a reclaim
      expect(await restarted.reclaimAbandoned(Q)).toBe(2);
      const again = await restarted.receive<Body>(Q, LONG);
      expect(again.map((m) => m.body['n']).sort()).toEqual([1, 2]);
      expect(again.map((m) => m.receiveCount)).toEqual([2, 2]);
      // The crashed holder's receipt no longer works; the new one does.
      await crashed.ack(Q, held[0] as ReceivedMessage<Body>);
      expect(await restarted.depth(Q)).toEqual({ ready: 2, dead: 0 });
      for (const message of again) {
        await restarted.ack(Q, message);
      }
      expect(await restarted.depth(Q)).toEqual({ ready: 0, dead: 0 });
    });

    it("reclaims a predecessor that had this very pid (a container's pid 1 after a restart)", async () => {
      const running = new Set([1]);
      await processOf(1, running).send(Q, { n: 1 });
      only(await processOf(1, running).receive(Q, LONG));
      expect(await processOf(1, running).reclaimAbandoned(Q)).toBe(1);
    });

    it('leaves alone the messages of a process still running, of another hub, and its own', async () => {
      const running = new Set([100, 200, 300]);
      const live = processOf(100, running);
      const otherHub = processOf(300, new Set(), '/srv/marvain-b'); // its pid is dead here, but it is another hub's
      const me = processOf(200, running);
      await live.send(Q, { by: 'live' });
      only(await live.receive(Q, LONG));
      await otherHub.send(Q, { by: 'other hub' });
      only(await otherHub.receive(Q, LONG));
      await me.send(Q, { by: 'me' });
      only(await me.receive(Q, LONG));

      expect(await me.reclaimAbandoned(Q)).toBe(0);
      expect(await processOf(400, running).receive(Q, IMMEDIATE)).toEqual([]);
      expect(await queue.reclaimAbandoned(Q)).toBe(0); // a queue without a receiver reclaims nothing
    });

    it("keeps a retry's backoff and a dead letter as they are", async () => {
      const running = new Set<number>();
      const crashed = processOf(100, running);
      await crashed.send(Q, { n: 'retried' });
      await crashed.send(Q, { n: 'poison' });
      const [first, second] = await crashed.receive<Body>(Q, LONG);
      await crashed.retry(Q, first as ReceivedMessage<Body>, { delaySeconds: 60, error: 'later' });
      await crashed.deadLetter(Q, second as ReceivedMessage<Body>, 'never');

      const restarted = processOf(200, running);
      expect(await restarted.reclaimAbandoned(Q)).toBe(0);
      expect(await restarted.receive(Q, LONG)).toEqual([]);
      expect(await restarted.depth(Q)).toEqual({ ready: 1, dead: 1 });
    });

    it('reclaims one queue at a time', async () => {
      const running = new Set<number>();
      const crashed = processOf(100, running);
      await crashed.send(Q, { n: 1 });
      await crashed.send(OTHER, { n: 2 });
      only(await crashed.receive(Q, LONG));
      only(await crashed.receive(OTHER, LONG));
      expect(await processOf(200, running).reclaimAbandoned(OTHER)).toBe(1);
      expect(await processOf(200, running).receive(Q, LONG)).toEqual([]);
    });
  });
});
