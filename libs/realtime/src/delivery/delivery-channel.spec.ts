import { DomainError, ErrorCode, type Principal, type StreamEntry, type StreamTopic } from '@marvain/contracts';
import type { StoredSubscription } from '../connection-store';
import { DeliveryChannel, type DeliveredMessage, type DeliveryLimits, type DeliverySink } from './delivery-channel';
import { DEFAULT_WEBSOCKET_LIMITS } from '../websocket-limits';

const AGENT = '00000000-0000-4000-8000-00000000000a';
const OTHER = '00000000-0000-4000-8000-00000000000b';
const SPACE = '00000000-0000-4000-8000-0000000000a1';

const READER: Principal = {
  type: 'user',
  id: 'u1',
  agents: [{ agent_id: AGENT, scopes: ['events:read', 'actions:read', 'spaces:read'] }],
};

function entry(seq: number, topic: StreamTopic = 'events.new', data: Record<string, unknown> = {}): StreamEntry {
  return { seq, agent_id: AGENT, topic, space_id: SPACE, data: { n: seq, ...data }, at: '2026-12-01T00:00:00.000Z' };
}

/** A stream table holding `table`, read like AgentStream.read (from a seq, oldest first). */
class Table {
  entries: StreamEntry[] = [];
  reads = 0;
  expiredBelow = 0;

  read = (agentId: string, fromSeq: number, limit: number): Promise<StreamEntry[]> => {
    this.reads += 1;
    if (fromSeq < this.expiredBelow) {
      return Promise.reject(new DomainError(ErrorCode.StreamExpired, 'expired', { oldest_seq: this.expiredBelow }));
    }
    return Promise.resolve(this.entries.filter((e) => e.agent_id === agentId && e.seq >= fromSeq).slice(0, limit));
  };

  commit(...entries: StreamEntry[]): StreamEntry[] {
    this.entries.push(...entries);
    return entries;
  }
}

/**
 * A sink whose unsent bytes the spec controls: `stall()` backs it up as a reply the transport
 * wrote would, `drain()` empties it and runs the write callbacks (the transport pumps the channel
 * when its own write completes, as the local server does after a reply).
 */
class Sink implements DeliverySink {
  sent: DeliveredMessage[] = [];
  backlog = 0;
  private pending: Array<() => void> = [];
  channel: DeliveryChannel | null = null;

  encode(message: DeliveredMessage): string {
    return JSON.stringify(message);
  }
  write(text: string, written: () => void): void {
    this.sent.push(JSON.parse(text) as DeliveredMessage);
    this.pending.push(written);
  }
  buffered(): number {
    return this.backlog;
  }
  stall(): void {
    this.backlog = 1_000_000;
    this.pending.push(() => this.channel?.pump());
  }
  drain(): void {
    this.backlog = 0;
    const pending = this.pending.splice(0);
    pending.forEach((written) => written());
  }
  seqs(): number[] {
    return this.sent.flatMap((m) => (m.type === 'stream' ? [m.seq] : []));
  }
}

/**
 * A socket the client reads one message at a time: a write stays unsent (counted in `buffered()`)
 * until the client takes it, and only then does its `written` callback run, as with a WebSocket
 * whose kernel buffers are full.
 */
class Socket implements DeliverySink {
  received: DeliveredMessage[] = [];
  private unsent: Array<{ text: string; written: () => void }> = [];

  encode(message: DeliveredMessage): string {
    return JSON.stringify(message);
  }
  write(text: string, written: () => void): void {
    this.unsent.push({ text, written });
  }
  buffered(): number {
    return this.unsent.reduce((bytes, write) => bytes + write.text.length, 0);
  }
  /** The client reads until nothing more comes, letting the channel run between messages. */
  async readAll(): Promise<void> {
    for (;;) {
      await settle();
      const next = this.unsent.shift();
      if (!next) {
        return;
      }
      this.received.push(JSON.parse(next.text) as DeliveredMessage);
      next.written();
    }
  }
  /** Stream seqs as numbers, resync notices as `resync(last_seq)`. */
  log(): Array<number | string> {
    return this.received.map((m) => (m.type === 'stream' ? m.seq : `resync(${m.last_seq})`));
  }
}

const LIMITS: DeliveryLimits = { deliveryBufferBytes: 1000, maxQueuedMessages: 5, maxQueuedBytes: 100_000 };
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function open(table: Table, sink: Sink, limits = LIMITS, principal = READER) {
  const stopped: string[] = [];
  const channel = new DeliveryChannel(() => principal, sink, table.read, limits, {
    stopped: (agentId) => stopped.push(agentId),
  });
  sink.channel = channel;
  return { channel, stopped };
}

const sub = (over: Partial<StoredSubscription> = {}): StoredSubscription => ({
  agent_id: AGENT,
  space_id: null,
  topics: ['events.new', 'actions.updated', 'presence.updated'],
  ...over,
});

describe('DeliveryChannel', () => {
  it('replays from the first seq, then tails, without duplicates when live entries overlap the replay', async () => {
    const table = new Table();
    table.commit(entry(1), entry(2), entry(3));
    const sink = new Sink();
    const { channel } = open(table, sink);
    channel.subscribe(sub(), 2);
    // Entries 3 and 4 arrive live while the replay read is under way.
    channel.offer(table.commit(entry(4)));
    channel.offer([entry(3)]);
    await settle();
    channel.offer(table.commit(entry(5)));
    channel.offer([entry(5), entry(4)]);
    expect(sink.seqs()).toEqual([2, 3, 4, 5]);
  });

  it('delivers exactly, in order, when live entries arrive out of order or some never arrive', async () => {
    const table = new Table();
    const sink = new Sink();
    const { channel } = open(table, sink);
    channel.subscribe(sub(), 1);
    await settle();
    const [one, two, three, four] = table.commit(entry(1), entry(2), entry(3), entry(4));
    // 2 published before 1; 3 never published (another process wrote it); 4 last.
    channel.offer([two as StreamEntry]);
    channel.offer([one as StreamEntry]);
    await settle();
    channel.offer([four as StreamEntry]);
    await settle();
    channel.offer([three as StreamEntry]);
    expect(sink.seqs()).toEqual([1, 2, 3, 4]);
  });

  it('skips what the subscriber may not hear (topic, space, scope) without stalling its position', async () => {
    const table = new Table();
    const sink = new Sink();
    const { channel } = open(table, sink);
    channel.subscribe(sub({ topics: ['events.new'], space_id: SPACE }), 1);
    await settle();
    const elsewhere = { ...entry(2), space_id: '00000000-0000-4000-8000-0000000000a2' };
    const memory = entry(3, 'memories.new');
    channel.offer(table.commit(entry(1, 'actions.updated', { action_id: 'x' }), elsewhere, memory, entry(4)));
    expect(sink.seqs()).toEqual([4]);
    expect(table.reads).toBe(1); // only the initial replay: filtered entries moved the cursor on
  });

  it('ignores entries of agents it does not subscribe to, and stops after unsubscribe', async () => {
    const table = new Table();
    const sink = new Sink();
    const { channel } = open(table, sink);
    channel.subscribe(sub(), 1);
    await settle();
    channel.offer([{ ...entry(1), agent_id: OTHER }]);
    channel.offer(table.commit(entry(1)));
    channel.unsubscribe(AGENT);
    channel.offer(table.commit(entry(2)));
    await settle();
    expect(sink.seqs()).toEqual([1]);
  });

  it('queues while the socket is backed up and sends in order once it drains', async () => {
    const table = new Table();
    const sink = new Sink();
    const { channel } = open(table, sink);
    channel.subscribe(sub(), 1);
    await settle();
    channel.offer(table.commit(entry(1)));
    sink.stall();
    channel.offer(table.commit(entry(2), entry(3)));
    expect(sink.seqs()).toEqual([1]);
    expect(channel.queued).toBe(2);
    sink.drain();
    expect(sink.seqs()).toEqual([1, 2, 3]);
    expect(channel.queued).toBe(0);
  });

  it('coalesces a queued actions.updated by action and presence.updated by subject and space', async () => {
    const table = new Table();
    const sink = new Sink();
    const { channel } = open(table, sink);
    channel.subscribe(sub(), 1);
    await settle();
    sink.stall();
    channel.offer(
      table.commit(
        entry(1, 'actions.updated', { action_id: 'a1', status: 'proposed' }),
        entry(2, 'presence.updated', { subject_type: 'device', subject_id: 'd1', status: 'online' }),
        entry(3, 'actions.updated', { action_id: 'a2', status: 'proposed' }),
        entry(4, 'actions.updated', { action_id: 'a1', status: 'approved' }),
        entry(5, 'presence.updated', { subject_type: 'device', subject_id: 'd1', status: 'away' }),
      ),
    );
    expect(channel.queued).toBe(3);
    sink.drain();
    expect(sink.seqs()).toEqual([3, 4, 5]);
    expect(sink.sent.map((m) => (m.type === 'stream' ? m.data['status'] : null))).toEqual([
      'proposed',
      'approved',
      'away',
    ]);
  });

  it('past the queue bound stops the subscription and names the last seq sent; a resume gets the rest', async () => {
    const table = new Table();
    const sink = new Sink();
    const { channel, stopped } = open(table, sink);
    channel.subscribe(sub(), 1);
    await settle();
    channel.offer(table.commit(entry(1), entry(2)));
    sink.stall();
    channel.offer(table.commit(...[3, 4, 5, 6, 7, 8, 9].map((seq) => entry(seq))));
    expect(stopped).toEqual([AGENT]);
    channel.offer(table.commit(entry(10)));
    sink.drain();
    expect(sink.sent.slice(2)).toEqual([{ type: 'resync_required', agent_id: AGENT, last_seq: 2 }]);
    expect(channel.queued).toBe(0); // nothing of the stopped subscription is held

    channel.subscribe(sub(), 3);
    await settle();
    expect(sink.seqs()).toEqual([1, 2, ...[3, 4, 5, 6, 7, 8, 9, 10]]);
  });

  it('replays a backlog far past the queue bound at the client’s pace, without stopping', async () => {
    const table = new Table();
    table.commit(...Array.from({ length: 1200 }, (_, i) => entry(i + 1)));
    const sink = new Sink();
    const { channel, stopped } = open(table, sink); // the queue holds 5
    sink.stall(); // the client reads nothing yet
    channel.subscribe(sub(), 1);
    await settle();
    expect(sink.sent).toHaveLength(0);
    expect(channel.queued).toBe(1); // the rest of the page waits for room
    for (let round = 0; round < 5; round += 1) {
      sink.drain();
      await settle();
    }
    expect(stopped).toEqual([]);
    expect(sink.seqs()).toEqual(Array.from({ length: 1200 }, (_, i) => i + 1));
  });

  it('after a resync, a resume replays large entries at the client’s pace instead of cutting it off again', async () => {
    // The configured limits: the queue holds two of these entries at most.
    const { deliveryBufferBytes, maxQueuedMessages, maxQueuedBytes } = DEFAULT_WEBSOCKET_LIMITS;
    const big = (seq: number): StreamEntry => entry(seq, 'events.new', { text: 'x'.repeat(100 * 1024) });
    const table = new Table();
    const socket = new Socket();
    const channel = new DeliveryChannel(() => READER, socket, table.read, {
      deliveryBufferBytes,
      maxQueuedMessages,
      maxQueuedBytes,
    });
    channel.subscribe(sub(), 1);
    await settle();
    // The client reads nothing while six entries are committed: it is cut off after the first.
    for (let seq = 1; seq <= 6; seq += 1) {
      channel.offer(table.commit(big(seq)));
    }
    await socket.readAll();
    expect(socket.log()).toEqual([1, 'resync(1)']);

    // It resumes after last_seq while more entries are committed; it reads as fast as it can.
    table.commit(...[7, 8, 9, 10, 11, 12].map(big));
    channel.subscribe(sub(), 2);
    await socket.readAll();
    expect(socket.log()).toEqual([1, 'resync(1)', 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(channel.queued).toBe(0);
  });

  it('a resume point retention deleted stops the subscription with resync_required', async () => {
    const table = new Table();
    table.expiredBelow = 10;
    const sink = new Sink();
    const { channel, stopped } = open(table, sink);
    channel.subscribe(sub(), 4);
    await settle();
    expect(stopped).toEqual([AGENT]);
    expect(sink.sent).toEqual([{ type: 'resync_required', agent_id: AGENT, last_seq: 3 }]);
  });

  it('keeps the position when only the topics change (null start)', async () => {
    const table = new Table();
    const sink = new Sink();
    const { channel } = open(table, sink);
    channel.subscribe(sub({ topics: ['events.new'] }), 1);
    await settle();
    channel.offer(table.commit(entry(1), entry(2, 'presence.updated', { subject_type: 'user', subject_id: 'u' })));
    channel.subscribe(sub({ topics: ['events.new', 'presence.updated'] }), null);
    channel.offer(table.commit(entry(3, 'presence.updated', { subject_type: 'user', subject_id: 'u' })));
    await settle();
    expect(sink.seqs()).toEqual([1, 3]);
  });
});
