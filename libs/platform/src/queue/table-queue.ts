import { sql, type Kysely } from 'kysely';
import type { QueueName } from '@marvain/contracts';
import { asJson, asUuid, type Database } from '@marvain/db';
import type { MessageQueue, ReceivedMessage, SendOptions } from './message-queue';
import type { QueueReceiver } from './queue-receiver';

/**
 * The local runtime's queue: rows in `queue_messages`. Receiving claims rows with
 * FOR UPDATE SKIP LOCKED and hides them for the visibility timeout; a message received
 * `maxReceives` times without an ack moves to the dead state, as SQS redrive does. A receive
 * records the receiver's tag, so the next process of the same hub can reclaim what a crash left
 * held (without a receiver, nothing is tagged and nothing reclaimed).
 */
export class TableQueue implements MessageQueue {
  private readonly listeners: Array<(queue: QueueName) => void> = [];

  constructor(
    private readonly db: Kysely<Database>,
    private readonly maxReceives: number,
    private readonly receiver?: QueueReceiver,
  ) {}

  async send(queue: QueueName, body: Record<string, unknown>, options: SendOptions = {}): Promise<void> {
    const executor = options.tx?.db ?? this.db;
    const delay = Math.max(0, Math.round(options.delaySeconds ?? 0));
    await executor
      .insertInto('queue_messages')
      .values({
        queue,
        body: asJson(body),
        dedup_key: options.dedupKey ?? null,
        visible_at: sql<Date>`now() + make_interval(secs => ${delay}::int)`,
      })
      .onConflict((oc) => oc.columns(['queue', 'dedup_key']).where('dedup_key', 'is not', null).doNothing())
      .execute();
    const notify = (): void => this.listeners.forEach((listener) => listener(queue));
    if (options.tx) {
      options.tx.afterCommit(notify);
    } else {
      notify();
    }
  }

  async receive<T>(
    queue: QueueName,
    options: { max: number; visibilityTimeoutSeconds: number },
  ): Promise<ReceivedMessage<T>[]> {
    // Messages whose receives are used up (their consumer crashed each time) go to the dead letters.
    await sql`
      UPDATE queue_messages SET state = 'dead', dead_at = now(),
        last_error = coalesce(last_error, 'visibility timeout expired after the last allowed receive')
      WHERE message_id IN (
        SELECT message_id FROM queue_messages
        WHERE queue = ${queue} AND state = 'ready' AND visible_at <= now() AND receive_count >= ${this.maxReceives}::int
        FOR UPDATE SKIP LOCKED)`.execute(this.db);
    const result = await sql<{ message_id: string; body: T; receipt: string; receive_count: number }>`
      UPDATE queue_messages AS m
      SET receive_count = m.receive_count + 1,
          visible_at = now() + make_interval(secs => ${options.visibilityTimeoutSeconds}::int),
          receipt = gen_random_uuid(),
          received_by = ${this.receiver?.tag ?? null}
      FROM (
        SELECT message_id FROM queue_messages
        WHERE queue = ${queue} AND state = 'ready' AND visible_at <= now() AND receive_count < ${this.maxReceives}::int
        ORDER BY visible_at, created_at
        LIMIT ${options.max}::int
        FOR UPDATE SKIP LOCKED
      ) AS picked
      WHERE m.message_id = picked.message_id
      RETURNING m.message_id, m.body, m.receipt, m.receive_count`.execute(this.db);
    return result.rows.map((row) => ({
      id: row.message_id,
      receipt: row.receipt,
      body: row.body,
      receiveCount: row.receive_count,
    }));
  }

  async ack(_queue: QueueName, message: ReceivedMessage<unknown>): Promise<void> {
    await this.db
      .deleteFrom('queue_messages')
      .where('message_id', '=', asUuid(message.id))
      .where('receipt', '=', asUuid(message.receipt))
      .execute();
  }

  async retry(
    _queue: QueueName,
    message: ReceivedMessage<unknown>,
    options: { delaySeconds: number; error: string },
  ): Promise<'retrying' | 'dead'> {
    const row = await this.db
      .updateTable('queue_messages')
      .set({
        state: sql`CASE WHEN receive_count >= ${this.maxReceives}::int THEN 'dead' ELSE 'ready' END`,
        dead_at: sql`CASE WHEN receive_count >= ${this.maxReceives}::int THEN now() ELSE NULL END`,
        visible_at: sql<Date>`now() + make_interval(secs => ${Math.max(0, Math.round(options.delaySeconds))}::int)`,
        last_error: options.error.slice(0, 2000),
        receipt: null,
        received_by: null,
      })
      .where('message_id', '=', asUuid(message.id))
      .where('receipt', '=', asUuid(message.receipt))
      .returning(['state'])
      .executeTakeFirst();
    return row?.state === 'dead' ? 'dead' : 'retrying';
  }

  async deadLetter(_queue: QueueName, message: ReceivedMessage<unknown>, error: string): Promise<void> {
    await this.db
      .updateTable('queue_messages')
      .set({ state: 'dead', dead_at: sql`now()`, last_error: error.slice(0, 2000), receipt: null, received_by: null })
      .where('message_id', '=', asUuid(message.id))
      .where('receipt', '=', asUuid(message.receipt))
      .execute();
  }

  async reclaimAbandoned(queue: QueueName): Promise<number> {
    const receiver = this.receiver;
    if (!receiver) {
      return 0;
    }
    // Held now (hidden, with a receipt) by some process of this hub's home; which of those are gone is the receiver's call.
    const held = await this.db
      .selectFrom('queue_messages')
      .select('received_by')
      .distinct()
      .where('queue', '=', queue)
      .where('state', '=', 'ready')
      .where('receipt', 'is not', null)
      .where('visible_at', '>', sql<Date>`now()`)
      .where('received_by', 'like', `${receiver.home}:%`)
      .execute();
    const dead = held
      .map((row) => row.received_by)
      .filter((tag): tag is string => tag !== null && receiver.isDeadPredecessor(tag));
    if (dead.length === 0) {
      return 0;
    }
    // The receipt is cleared, so a late ack or retry from the old holder (were it alive after all) does nothing.
    const result = await this.db
      .updateTable('queue_messages')
      .set({ visible_at: sql<Date>`now()`, receipt: null, received_by: null })
      .where('queue', '=', queue)
      .where('state', '=', 'ready')
      .where('receipt', 'is not', null)
      .where('received_by', 'in', dead)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  onSent(listener: (queue: QueueName) => void): void {
    this.listeners.push(listener);
  }

  /** Counts per state, for health reporting and tests. */
  async depth(queue: QueueName): Promise<{ ready: number; dead: number }> {
    const rows = await this.db
      .selectFrom('queue_messages')
      .select(['state', (eb) => eb.fn.countAll<string>().as('n')])
      .where('queue', '=', queue)
      .groupBy('state')
      .execute();
    const count = (state: string): number => Number(rows.find((r) => r.state === state)?.n ?? 0);
    return { ready: count('ready'), dead: count('dead') };
  }
}
