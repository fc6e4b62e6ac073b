import { Logger } from '@nestjs/common';
import type { Principal, WsCloseCode } from '@marvain/contracts';
import { PrincipalRevocations } from '@marvain/identity';
import { LoggerFactory, type Clock } from '@marvain/platform';
import type { ConnectionPush } from './connection-push';
import type { StoredSubscription } from './connection-store';
import { MemoryConnectionStore } from './memory-connection-store';
import { StoredRevocations } from './stored-revocations';

const NOW = new Date('2026-11-20T10:00:00.000Z');
const clock: Clock = { now: () => new Date(NOW) };

const DEVICE: Principal = { type: 'device', id: 'd1', agents: [{ agent_id: 'a1', scopes: ['actions:read'] }] };
const USER: Principal = {
  type: 'user',
  id: 'u1',
  agents: [
    { agent_id: 'a1', scopes: ['actions:read'] },
    { agent_id: 'a2', scopes: ['actions:read'] },
  ],
};
const OTHER_USER: Principal = { type: 'user', id: 'u2', agents: [{ agent_id: 'a2', scopes: ['actions:read'] }] };

/** Closes as the Management API would (the record goes); `refuse` makes one close fail. */
class RecordingPush implements ConnectionPush {
  readonly closed: Array<[string, WsCloseCode]> = [];
  refuse = new Set<string>();
  constructor(private readonly store: MemoryConnectionStore) {}
  send(): Promise<'sent' | 'gone'> {
    return Promise.resolve('sent');
  }
  async close(connectionId: string, code: WsCloseCode): Promise<void> {
    if (this.refuse.has(connectionId)) {
      throw new Error('ForbiddenException');
    }
    this.closed.push([connectionId, code]);
    await this.store.delete(connectionId);
  }
}

function subscription(agentId: string): StoredSubscription {
  return { agent_id: agentId, space_id: null, topics: ['actions.updated'] };
}

describe('StoredRevocations', () => {
  let store: MemoryConnectionStore;
  let push: RecordingPush;
  let revocations: PrincipalRevocations;
  let closer: StoredRevocations;

  async function connect(id: string, principal: Principal, subscribedTo: string[] = []): Promise<void> {
    await store.put({
      connection_id: id,
      principal,
      agent_ids: principal.agents.map((a) => a.agent_id),
      subscriptions: subscribedTo.map(subscription),
      connected_at: NOW.toISOString(),
      expires_at: NOW.getTime() / 1000 + 3600,
    });
  }

  beforeEach(async () => {
    store = new MemoryConnectionStore(clock);
    push = new RecordingPush(store);
    revocations = new PrincipalRevocations(new LoggerFactory());
    closer = new StoredRevocations(revocations, store, push, new LoggerFactory());
    closer.onModuleInit();
    await connect('dev-1', DEVICE);
    await connect('dev-2', DEVICE, ['a1']);
    await connect('user-1', USER, ['a1']);
    await connect('user-2', USER, ['a2']);
    await connect('other-1', OTHER_USER, ['a2']);
  });
  afterEach(() => closer.onModuleDestroy());

  it('a revoked device loses every live connection (4401), and nobody else does', async () => {
    await revocations.announce({ principal: { type: 'device', id: 'd1' }, reason: 'credential_revoked' });
    expect(push.closed.sort()).toEqual([
      ['dev-1', 4401],
      ['dev-2', 4401],
    ]);
    expect(await store.listByPrincipal(DEVICE)).toEqual([]);
    expect((await store.listByPrincipal(USER)).sort()).toEqual(['user-1', 'user-2']);
  });

  it('an ended membership closes the user’s connections with 4403, so the client may say hello again', async () => {
    await revocations.announce({ principal: { type: 'user', id: 'u1' }, reason: 'access_changed' });
    expect(push.closed.sort()).toEqual([
      ['user-1', 4403],
      ['user-2', 4403],
    ]);
  });

  it('a disabled agent closes the connections subscribed to it: its device’s for good, its members’ to say hello again', async () => {
    await revocations.announce({ agentId: 'a1', reason: 'credential_revoked' });
    expect(push.closed.sort()).toEqual([
      ['dev-2', 4401],
      ['user-1', 4403],
    ]);
    // Subscribed to another agent only: not concerned.
    expect(await store.get('other-1')).not.toBeNull();
  });

  it('a close that fails is logged and does not keep the others open', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    push.refuse.add('dev-1');
    await revocations.announce({ principal: { type: 'device', id: 'd1' }, reason: 'credential_revoked' });
    expect(push.closed).toEqual([['dev-2', 4401]]);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('could not close dev-1'));
    warn.mockRestore();
  });

  it('stops listening when its module is destroyed', async () => {
    closer.onModuleDestroy();
    await revocations.announce({ principal: { type: 'device', id: 'd1' }, reason: 'credential_revoked' });
    expect(push.closed).toEqual([]);
  });
});
