import type { Principal, ServerMessage, StreamEntry } from '@marvain/contracts';
import type { PrincipalResolver } from '@marvain/identity';
import { LoggerFactory, type Clock } from '@marvain/platform';
import type { PresenceService } from '@marvain/presence';
import type { AgentStream, StreamFilter } from '@marvain/streams';
import type { ConnectionPush } from './connection-push';
import type { ConnectionSession } from './connection-session';
import type { StoredSubscription } from './connection-store';
import { MemoryConnectionStore } from './memory-connection-store';
import type { ConnectionState, RealtimeGateway } from './realtime.gateway';
import { StoredConnections } from './stored-connections';

// The AWS transport's side of the ConnectionSession contract, with the gateway's part played by a
// stand-in that subscribes as the real one does (its own specs cover what it answers).

const NOW = new Date('2026-11-20T10:00:00.000Z');
const clock: Clock = { now: () => new Date(NOW) };
const DEVICE: Principal = { type: 'device', id: 'd1', agents: [{ agent_id: 'a1', scopes: ['actions:read'] }] };

/** Ten entries on a1: odd seqs actions.updated (the device hears them), even seqs events.new. */
const ENTRIES: StreamEntry[] = Array.from({ length: 10 }, (_, index) => ({
  seq: index + 1,
  agent_id: 'a1',
  topic: index % 2 === 0 ? 'actions.updated' : 'events.new',
  space_id: null,
  data: { n: index + 1 },
  at: NOW.toISOString(),
}));

/** The stream table's read, as AgentStream answers it (pages of at most `limit`). */
const stream: Pick<AgentStream, 'head' | 'read'> = {
  head: () => Promise.resolve(ENTRIES.length),
  read: (_agentId: string, fromSeq: number, filter: StreamFilter, limit: number) =>
    Promise.resolve(
      ENTRIES.filter((e) => e.seq >= fromSeq && (!filter.topics || filter.topics.includes(e.topic))).slice(0, limit),
    ),
};

class RecordingPush implements ConnectionPush {
  readonly sent: object[] = [];
  goneAfter = Infinity;
  constructor(private readonly store: MemoryConnectionStore) {}
  async send(connectionId: string, message: object): Promise<'sent' | 'gone'> {
    if (this.sent.length >= this.goneAfter) {
      await this.store.delete(connectionId);
      return 'gone';
    }
    this.sent.push(message);
    return 'sent';
  }
  async close(connectionId: string): Promise<void> {
    await this.store.delete(connectionId);
  }
}

/** Subscribes as the gateway does for `{"from_seq": n}` (null: keep the position). */
function subscribingGateway(fromSeq: number | null): RealtimeGateway {
  return {
    handleFrame: async (state: ConnectionState, _raw: string, session: ConnectionSession): Promise<ServerMessage> => {
      const subscription: StoredSubscription = { agent_id: 'a1', space_id: null, topics: ['actions.updated'] };
      state.subscriptions = [subscription];
      await session.subscribe(subscription, fromSeq);
      return {
        type: 'subscribed',
        id: 's1',
        agent_id: 'a1',
        space_id: null,
        topics: ['actions.updated'],
        last_seq: 10,
      };
    },
  } as unknown as RealtimeGateway;
}

describe('StoredConnections (the API Gateway transport)', () => {
  let store: MemoryConnectionStore;
  let push: RecordingPush;

  async function connections(fromSeq: number | null, maxReplay = 100): Promise<StoredConnections> {
    const made = new StoredConnections(
      {
        gateway: subscribingGateway(fromSeq),
        resolver: { resolve: () => Promise.resolve(DEVICE) } as unknown as PrincipalResolver,
        presence: { connected: () => Promise.resolve() } as unknown as PresenceService,
        store,
        push,
        stream,
        clock,
        logger: new LoggerFactory().forContext('test'),
      },
      { ttlSeconds: 7260, maxConnectionsPerPrincipal: 4, maxReplay },
    );
    expect(await made.connect('c1', 'device-token')).toEqual({ accepted: true });
    return made;
  }

  beforeEach(() => {
    store = new MemoryConnectionStore(clock);
    push = new RecordingPush(store);
  });

  it('pushes the reply, then the entries from from_seq it hears, in order, and answers no route response', async () => {
    const transport = await connections(4);
    expect(await transport.frame('c1', '{"type":"subscribe"}')).toBeNull();
    expect(push.sent).toEqual([
      expect.objectContaining({ type: 'subscribed', id: 's1' }),
      ...[5, 7, 9].map((seq) => ({ type: 'stream', ...ENTRIES[seq - 1] })),
    ]);
    // Stored for fan-out, which leaves up to the head read to this replay.
    expect(await store.listSubscribers('a1')).toEqual([
      expect.objectContaining({ connection_id: 'c1', live_after: 10 }),
    ]);
  });

  it('past maxReplay messages pushes resync_required with the last seq covered, and ends the subscription', async () => {
    const transport = await connections(1, 2);
    await transport.frame('c1', '{"type":"subscribe"}');
    expect(push.sent).toEqual([
      expect.objectContaining({ type: 'subscribed' }),
      { type: 'stream', ...ENTRIES[0] },
      { type: 'stream', ...ENTRIES[2] },
      // Seq 5 was next: everything up to 4 is covered; from_seq 5 resumes.
      { type: 'resync_required', agent_id: 'a1', last_seq: 4 },
    ]);
    expect(await store.listSubscribers('a1')).toEqual([]);
  });

  it('with nothing to replay, the reply stays the route response and nothing is pushed', async () => {
    for (const fromSeq of [11, null]) {
      const transport = await connections(fromSeq);
      expect(await transport.frame('c1', '{"type":"subscribe"}')).toMatchObject({ type: 'subscribed' });
    }
    expect(push.sent).toEqual([]);
  });

  it('stops replaying to a connection that has gone', async () => {
    const transport = await connections(1);
    push.goneAfter = 2;
    await transport.frame('c1', '{"type":"subscribe"}');
    expect(push.sent).toHaveLength(2);
    expect(await store.get('c1')).toBeNull();
  });
});
