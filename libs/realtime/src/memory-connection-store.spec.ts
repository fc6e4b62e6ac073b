import type { Clock } from '@marvain/platform';
import type { StoredConnection, StoredSubscription } from './connection-store';
import { MemoryConnectionStore } from './memory-connection-store';

class FakeClock implements Clock {
  constructor(public current: Date) {}
  now(): Date {
    return new Date(this.current);
  }
}

const T0 = new Date('2026-11-20T10:00:00.000Z');
const T0_SECONDS = T0.getTime() / 1000;

function connection(id: string, agentIds: string[], expiresAt = T0_SECONDS + 600): StoredConnection {
  return {
    connection_id: id,
    principal: {
      type: 'device',
      id: `device-${id}`,
      agents: agentIds.map((agent_id) => ({ agent_id, scopes: ['events:write'] })),
    },
    agent_ids: agentIds,
    connected_at: T0.toISOString(),
    expires_at: expiresAt,
  };
}

function subscription(agentId: string): StoredSubscription {
  return { agent_id: agentId, space_id: null, topics: ['events.new'] };
}

function subscribed(id: string, agentIds: string[], expiresAt = T0_SECONDS + 600): StoredConnection {
  return { ...connection(id, agentIds, expiresAt), subscriptions: agentIds.map(subscription) };
}

describe('MemoryConnectionStore', () => {
  let clock: FakeClock;
  let store: MemoryConnectionStore;
  beforeEach(() => {
    clock = new FakeClock(T0);
    store = new MemoryConnectionStore(clock);
  });

  it('returns what was put, and null for an unknown id', async () => {
    await store.put(connection('c1', ['a1']));
    expect(await store.get('c1')).toEqual({ ...connection('c1', ['a1']), subscriptions: [] });
    expect(await store.get('c2')).toBeNull();
  });

  it('keeps its own copy: changing the object put or got changes nothing stored', async () => {
    const put = connection('c1', ['a1']);
    await store.put(put);
    put.agent_ids.push('a2');
    const got = await store.get('c1');
    got!.agent_ids.push('a3');
    expect((await store.get('c1'))!.agent_ids).toEqual(['a1']);
  });

  it('hides a connection from the second its expires_at is reached, as TTL-expired', async () => {
    await store.put(subscribed('c1', ['a1'], T0_SECONDS + 10));
    clock.current = new Date((T0_SECONDS + 9) * 1000 + 999);
    expect(await store.get('c1')).not.toBeNull();
    expect(await store.listSubscribers('a1')).toHaveLength(1);
    expect(await store.listByPrincipal({ type: 'device', id: 'device-c1' })).toEqual(['c1']);
    clock.current = new Date((T0_SECONDS + 10) * 1000);
    expect(await store.get('c1')).toBeNull();
    expect(await store.listSubscribers('a1')).toEqual([]);
    expect(await store.listByPrincipal({ type: 'device', id: 'device-c1' })).toEqual([]);
  });

  it('touch extends a live connection and reports true', async () => {
    await store.put(connection('c1', ['a1'], T0_SECONDS + 10));
    expect(await store.touch('c1', T0_SECONDS + 100)).toBe(true);
    clock.current = new Date((T0_SECONDS + 50) * 1000);
    expect((await store.get('c1'))?.expires_at).toBe(T0_SECONDS + 100);
  });

  it('touch does not revive an expired connection or create a missing one', async () => {
    await store.put(connection('c1', ['a1'], T0_SECONDS + 10));
    clock.current = new Date((T0_SECONDS + 10) * 1000);
    expect(await store.touch('c1', T0_SECONDS + 100)).toBe(false);
    expect(await store.get('c1')).toBeNull();
    expect(await store.touch('never', T0_SECONDS + 100)).toBe(false);
    expect(await store.get('never')).toBeNull();
  });

  it('delete removes a connection and its subscriptions; deleting an unknown one is harmless', async () => {
    await store.put(subscribed('c1', ['a1']));
    await store.delete('c1');
    await store.delete('c1');
    expect(await store.get('c1')).toBeNull();
    expect(await store.listSubscribers('a1')).toEqual([]);
    expect(await store.listByPrincipal({ type: 'device', id: 'device-c1' })).toEqual([]);
  });

  it('lists the live subscribers of an agent with their principal and subscription, and only those', async () => {
    await store.put(subscribed('c1', ['a1', 'a2']));
    await store.put(subscribed('c2', ['a2']));
    await store.put(subscribed('c3', ['a1'], T0_SECONDS - 1));
    // Holds a1 but never subscribed to it: no broadcast of a1 is for it.
    await store.put(connection('c4', ['a1']));
    expect(await store.listSubscribers('a1')).toEqual([
      {
        connection_id: 'c1',
        principal: connection('c1', ['a1', 'a2']).principal,
        subscription: subscription('a1'),
        live_after: 0,
        expires_at: T0_SECONDS + 600,
      },
    ]);
    expect((await store.listSubscribers('a2')).map((s) => s.connection_id).sort()).toEqual(['c1', 'c2']);
    expect(await store.listSubscribers('a9')).toEqual([]);
  });

  it('putSubscription adds or replaces one agent’s subscription and leaves the others', async () => {
    await store.put(subscribed('c1', ['a1', 'a2']));
    const narrower: StoredSubscription = { agent_id: 'a1', space_id: 's1', topics: ['actions.updated'] };
    expect(await store.putSubscription('c1', narrower, 5)).toBe(true);
    expect(await store.putSubscription('c1', subscription('a3'), 0)).toBe(true);
    expect((await store.get('c1'))?.subscriptions).toEqual([narrower, subscription('a2'), subscription('a3')]);
    expect((await store.listSubscribers('a1')).map((s) => [s.subscription, s.live_after])).toEqual([[narrower, 5]]);
    expect((await store.listSubscribers('a3')).map((s) => s.connection_id)).toEqual(['c1']);
  });

  it('putSubscription refuses a missing or expired connection and stores nothing for it', async () => {
    await store.put(connection('c1', ['a1'], T0_SECONDS + 10));
    clock.current = new Date((T0_SECONDS + 10) * 1000);
    expect(await store.putSubscription('c1', subscription('a1'), 0)).toBe(false);
    expect(await store.putSubscription('never', subscription('a1'), 0)).toBe(false);
    expect(await store.listSubscribers('a1')).toEqual([]);
  });

  it('deleteSubscription ends one agent’s subscription; an unknown one is harmless', async () => {
    await store.put(subscribed('c1', ['a1', 'a2']));
    await store.deleteSubscription('c1', 'a1');
    await store.deleteSubscription('c1', 'a9');
    await store.deleteSubscription('never', 'a1');
    expect(await store.listSubscribers('a1')).toEqual([]);
    expect((await store.get('c1'))?.subscriptions).toEqual([subscription('a2')]);
  });

  it('lists a principal’s live connections, and no one else’s', async () => {
    await store.put({ ...connection('c1', ['a1']), principal: { type: 'device', id: 'd1', agents: [] } });
    await store.put({ ...connection('c2', ['a1']), principal: { type: 'device', id: 'd1', agents: [] } });
    await store.put({ ...connection('c3', ['a1']), principal: { type: 'user', id: 'd1', agents: [] } });
    expect((await store.listByPrincipal({ type: 'device', id: 'd1' })).sort()).toEqual(['c1', 'c2']);
    await store.delete('c1');
    expect(await store.listByPrincipal({ type: 'device', id: 'd1' })).toEqual(['c2']);
    expect(await store.listByPrincipal({ type: 'device', id: 'd9' })).toEqual([]);
  });

  it('put replaces the connection stored under the same id, subscriptions and principal included', async () => {
    await store.put(subscribed('c1', ['a1']));
    await store.put({ ...subscribed('c1', ['a2']), principal: { type: 'user', id: 'u1', agents: [] } });
    expect(await store.listSubscribers('a1')).toEqual([]);
    expect((await store.listSubscribers('a2')).map((s) => s.principal.id)).toEqual(['u1']);
    expect(await store.listByPrincipal({ type: 'device', id: 'device-c1' })).toEqual([]);
    expect((await store.get('c1'))?.agent_ids).toEqual(['a2']);
  });
});
