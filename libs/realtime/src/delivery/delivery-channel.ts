import { DomainError, ErrorCode, type Principal, type StreamEntry } from '@marvain/contracts';
import type { StoredSubscription } from '../connection-store';
import { hears } from '../subscriptions';

/** What a delivery sends: an entry of a subscribed stream, or the notice that a subscription stopped. */
export type DeliveredMessage =
  ({ type: 'stream' } & StreamEntry) | { type: 'resync_required'; agent_id: string; last_seq: number };

/** Where a channel's messages go: a WebSocket, or an SSE response. */
export interface DeliverySink {
  /** The message as the transport writes it (a JSON frame, an SSE event). */
  encode(message: DeliveredMessage): string;
  /** Writes; `written` runs once the text left the hub's buffer (or the sink closed), so the channel can go on. */
  write(text: string, written: () => void): void;
  /** Bytes written but not yet sent to the client (a WebSocket's bufferedAmount). */
  buffered(): number;
}

/** Reads at most `limit` of an agent's committed entries from `fromSeq`, oldest first (AgentStream.read fits). */
export type StreamReader = (agentId: string, fromSeq: number, limit: number) => Promise<StreamEntry[]>;

/** What one connection's delivery may hold (see WebSocketLimits, where they are documented). */
export interface DeliveryLimits {
  /** While the sink holds more than this unsent, messages wait in the channel's queue. */
  deliveryBufferBytes: number;
  /** Messages the queue holds at most (after coalescing); past it the subscription stops. */
  maxQueuedMessages: number;
  /** Bytes (encoded) the queue holds at most; past it the subscription stops. */
  maxQueuedBytes: number;
}

interface Cursor {
  subscription: StoredSubscription;
  /** The next seq of the agent's stream this subscription expects. */
  next: number;
  /** The last seq written to the sink (the resume point a resync names). */
  lastSent: number;
  /** A catch-up read is under way: live entries only raise `seenWhileReading`. */
  reading: boolean;
  seenWhileReading: number;
  /** Bumped when the subscription is replaced or stopped, so an old read's results are dropped. */
  generation: number;
}

interface Queued {
  cursor: Cursor;
  seq: number;
  /** Entries with the same key supersede each other while queued (null: never coalesced). */
  key: string | null;
  text: string;
  /** A resync notice: not counted against the bound, never dropped. */
  control: boolean;
}

/** How many entries a catch-up read asks for at once (AgentStream's page). */
export const CATCH_UP_PAGE = 500;

/**
 * One connection's (or SSE stream's) delivery of agent streams. Per subscription a cursor `next`:
 * an entry below it was delivered (or skipped) already and is dropped; the entry at it is
 * delivered when the subscriber hears it, and `next` moves on either way; an entry above it
 * means entries are missing (callbacks ran out of order, another process wrote), so the cursor
 * reads them from the stream table before going on. Delivery is therefore exact whatever order
 * live entries arrive in.
 *
 * While the sink holds more than `deliveryBufferBytes` unsent, messages wait in a queue where a
 * newer `actions.updated` of the same action, or `presence.updated` of the same subject and
 * space, replaces the older one. Past the queue's bound the subscription stops: its queued
 * entries are dropped and the client is sent `resync_required {agent_id, last_seq}` naming the
 * last seq it was sent. A replay waits until the queue is empty before each read and stops
 * reading a page once the sink is backed up: it goes at the client's pace, one entry queued at most.
 */
export class DeliveryChannel {
  private readonly cursors = new Map<string, Cursor>();
  private readonly queue: Queued[] = [];
  private queuedBytes = 0;
  private queuedEntries = 0;
  private roomWaiters: Array<() => void> = [];
  private closed = false;

  constructor(
    private principal: () => Principal,
    private readonly sink: DeliverySink,
    private readonly read: StreamReader,
    private readonly limits: DeliveryLimits,
    private readonly events: {
      /** A subscription stopped after its queue overflowed (its resync notice is queued). */
      stopped?: (agentId: string) => void;
      /** A catch-up read failed for a reason other than expiry (logged by the owner). */
      failed?: (agentId: string, error: unknown) => void;
    } = {},
  ) {}

  /** The agents this channel delivers for. */
  agents(): string[] {
    return [...this.cursors.keys()];
  }

  /** How many messages wait in the queue (for tests and diagnostics). */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * Starts or replaces the subscription to an agent, delivering from `fromSeq` (replayed from the
   * table first); `null` keeps the current subscription's position and queued entries.
   */
  subscribe(subscription: StoredSubscription, fromSeq: number | null): void {
    const existing = this.cursors.get(subscription.agent_id);
    if (fromSeq === null && existing) {
      existing.subscription = subscription;
      return;
    }
    this.stop(subscription.agent_id);
    const start = fromSeq ?? 1;
    const cursor: Cursor = {
      subscription,
      next: start,
      lastSent: start - 1,
      reading: false,
      seenWhileReading: 0,
      generation: (existing?.generation ?? 0) + 1,
    };
    this.cursors.set(subscription.agent_id, cursor);
    void this.catchUp(cursor);
  }

  /** Stops delivering for the agent: queued entries of it are dropped, nothing more is sent. */
  unsubscribe(agentId: string): void {
    this.stop(agentId);
  }

  /** Live entries, as committed (from the bus), in any order. */
  offer(entries: readonly StreamEntry[]): void {
    for (const entry of entries) {
      const cursor = this.cursors.get(entry.agent_id);
      if (!cursor || this.closed) {
        continue;
      }
      if (cursor.reading) {
        cursor.seenWhileReading = Math.max(cursor.seenWhileReading, entry.seq);
      } else if (entry.seq === cursor.next) {
        this.accept(cursor, entry);
      } else if (entry.seq > cursor.next) {
        cursor.seenWhileReading = entry.seq;
        void this.catchUp(cursor);
      }
    }
  }

  /** The sink has room again: sends what waits. */
  pump(): void {
    while (this.queue.length > 0 && !this.closed && this.sink.buffered() <= this.limits.deliveryBufferBytes) {
      const item = this.queue.shift() as Queued;
      this.forget(item);
      this.send(item);
    }
    if (this.queue.length === 0) {
      const waiters = this.roomWaiters;
      this.roomWaiters = [];
      waiters.forEach((wake) => wake());
    }
  }

  /** Ends delivery: pending reads are dropped, nothing more is written. */
  close(): void {
    this.closed = true;
    for (const agentId of this.agents()) {
      this.stop(agentId);
    }
    // Nothing more is written: waiting messages go, and reads waiting for room give up.
    this.queue.length = 0;
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    waiters.forEach((wake) => wake());
  }

  private accept(cursor: Cursor, entry: StreamEntry): void {
    cursor.next = entry.seq + 1;
    if (!hears(this.principal(), cursor.subscription, entry)) {
      return;
    }
    const text = this.sink.encode({ type: 'stream', ...entry });
    const item: Queued = { cursor, seq: entry.seq, key: coalescingKey(entry), text, control: false };
    if (this.queue.length === 0 && this.sink.buffered() <= this.limits.deliveryBufferBytes) {
      this.send(item);
      return;
    }
    if (item.key !== null) {
      const older = this.queue.findIndex((queued) => queued.key === item.key);
      if (older >= 0) {
        this.forget(this.queue[older] as Queued);
        this.queue.splice(older, 1);
      }
    }
    this.queue.push(item);
    this.queuedEntries += 1;
    this.queuedBytes += item.text.length;
    if (this.queuedEntries > this.limits.maxQueuedMessages || this.queuedBytes > this.limits.maxQueuedBytes) {
      this.overflow(cursor);
    }
  }

  private send(item: Queued): void {
    if (!item.control) {
      item.cursor.lastSent = item.seq;
    }
    this.sink.write(item.text, () => this.pump());
  }

  private forget(item: Queued): void {
    if (!item.control) {
      this.queuedEntries -= 1;
      this.queuedBytes -= item.text.length;
    }
  }

  /** The queue passed its bound: the subscription stops, and the client learns where to resume. */
  private overflow(cursor: Cursor): void {
    const agentId = cursor.subscription.agent_id;
    this.stop(agentId);
    this.queue.push({
      cursor,
      seq: cursor.lastSent,
      key: null,
      text: this.sink.encode({ type: 'resync_required', agent_id: agentId, last_seq: cursor.lastSent }),
      control: true,
    });
    this.events.stopped?.(agentId);
    this.pump();
  }

  private stop(agentId: string): void {
    const cursor = this.cursors.get(agentId);
    if (!cursor) {
      return;
    }
    cursor.generation += 1;
    this.cursors.delete(agentId);
    for (let index = this.queue.length - 1; index >= 0; index -= 1) {
      const item = this.queue[index] as Queued;
      if (item.cursor === cursor && !item.control) {
        this.forget(item);
        this.queue.splice(index, 1);
      }
    }
  }

  /** Reads from `next` until the table has nothing more than the live entries already seen. */
  private async catchUp(cursor: Cursor): Promise<void> {
    if (cursor.reading) {
      return;
    }
    cursor.reading = true;
    const generation = cursor.generation;
    const current = (): boolean => !this.closed && cursor.generation === generation;
    let limit = CATCH_UP_PAGE;
    try {
      for (;;) {
        await this.room();
        if (!current()) {
          return;
        }
        const entries = await this.read(cursor.subscription.agent_id, cursor.next, limit);
        if (!current()) {
          return;
        }
        let backedUp = false;
        for (const entry of entries) {
          if (entry.seq < cursor.next) {
            continue;
          }
          if (entry.seq > cursor.next) {
            // The table lacks seqs the cursor needs (retention ran): the client must resync.
            this.overflow(cursor);
            return;
          }
          // The sink is backed up: the rest of the page is dropped and read again once there is
          // room, so a replay neither overflows the queue (a few large entries would) nor pins a page.
          if (this.queue.length > 0) {
            backedUp = true;
            break;
          }
          this.accept(cursor, entry);
          if (!current()) {
            return; // the queue overflowed while replaying
          }
        }
        if (backedUp) {
          // A client slower than the table is replayed in small reads, which grow back as it keeps up.
          limit = 1;
          continue;
        }
        if (entries.length < limit && cursor.seenWhileReading < cursor.next) {
          return;
        }
        limit = Math.min(CATCH_UP_PAGE, limit * 2);
      }
    } catch (error) {
      if (current() && error instanceof DomainError && error.code === ErrorCode.StreamExpired) {
        this.overflow(cursor);
      } else if (current()) {
        this.events.failed?.(cursor.subscription.agent_id, error);
      }
    } finally {
      cursor.reading = false;
    }
  }

  /** Resolves once the queue is empty (a replay waits for the client to take what it was sent). */
  private room(): Promise<void> {
    if (this.queue.length === 0 || this.closed) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }
}

/** Which queued entry a newer one supersedes: the same action, or the same subject in the same space. */
function coalescingKey(entry: StreamEntry): string | null {
  if (entry.topic === 'actions.updated' && typeof entry.data['action_id'] === 'string') {
    return `action:${entry.agent_id}:${entry.data['action_id']}`;
  }
  if (
    entry.topic === 'presence.updated' &&
    typeof entry.data['subject_type'] === 'string' &&
    typeof entry.data['subject_id'] === 'string'
  ) {
    return `presence:${entry.agent_id}:${entry.space_id ?? ''}:${entry.data['subject_type']}:${entry.data['subject_id']}`;
  }
  return null;
}
