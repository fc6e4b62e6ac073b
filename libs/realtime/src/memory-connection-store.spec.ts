import type { Clock } from '@marvain/platform';
import type { StoredConnection } from './connection-store';
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

describe('MemoryConnectionStore', () => {
  let clock: FakeClock;
  let store: MemoryConnectionStore;
  beforeEach(() => {
    clock = new FakeClock(T0);
    store = new MemoryConnectionStore(clock);
  });

  it('returns what was put, and null for an unknown id', async () => {
    await store.put(connection('c1', ['a1']));
    expect(await store.get('c1')).toEqual(connection('c1', ['a1']));
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
    await store.put(connection('c1', ['a1'], T0_SECONDS + 10));
    clock.current = new Date((T0_SECONDS + 9) * 1000 + 999);
    expect(await store.get('c1')).not.toBeNull();
    expect(await store.listByAgent('a1')).toHaveLength(1);
    clock.current = new Date((T0_SECONDS + 10) * 1000);
    expect(await store.get('c1')).toBeNull();
    expect(await store.listByAgent('a1')).toEqual([]);
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

  it('delete removes a connection; deleting an unknown one is harmless', async () => {
    await store.put(connection('c1', ['a1']));
    await store.delete('c1');
    await store.delete('c1');
    expect(await store.get('c1')).toBeNull();
    expect(await store.listByAgent('a1')).toEqual([]);
  });

  it('lists the live connections subscribed to an agent, and only those', async () => {
    await store.put(connection('c1', ['a1', 'a2']));
    await store.put(connection('c2', ['a2']));
    await store.put(connection('c3', ['a1'], T0_SECONDS - 1));
    await store.put(connection('c4', []));
    expect((await store.listByAgent('a1')).map((c) => c.connection_id)).toEqual(['c1']);
    expect((await store.listByAgent('a2')).map((c) => c.connection_id).sort()).toEqual(['c1', 'c2']);
    expect(await store.listByAgent('a9')).toEqual([]);
  });

  it('put replaces the connection stored under the same id', async () => {
    await store.put(connection('c1', ['a1']));
    await store.put(connection('c1', ['a2']));
    expect(await store.listByAgent('a1')).toEqual([]);
    expect((await store.get('c1'))?.agent_ids).toEqual(['a2']);
  });
});
