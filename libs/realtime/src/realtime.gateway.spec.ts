import type { CommandsService } from '@marvain/commands';
import type { Principal } from '@marvain/contracts';
import type { PrincipalResolver } from '@marvain/identity';
import { LoggerFactory, type Clock } from '@marvain/platform';
import { PRESENCE_REFRESH_SECONDS, type PresenceService } from '@marvain/presence';
import type { ConnectionSession } from './connection-session';
import type { ProtocolVerbs } from './protocol-verbs';
import { RealtimeGateway, type ConnectionState } from './realtime.gateway';

const DEVICE: Principal = { type: 'device', id: 'dev-1', agents: [{ agent_id: 'agent-1', scopes: ['events:write'] }] };

describe('RealtimeGateway ping', () => {
  let now: number;
  let seen: number;
  let gateway: RealtimeGateway;
  const session = { connectionId: 'c-1', seen: () => Promise.resolve() } as unknown as ConnectionSession;

  beforeEach(() => {
    now = Date.parse('2026-12-03T10:00:00.000Z');
    seen = 0;
    const clock: Clock = { now: () => new Date(now) };
    const presence = { seen: () => Promise.resolve(void (seen += 1)) } as unknown as PresenceService;
    gateway = new RealtimeGateway(
      {} as PrincipalResolver,
      {} as ProtocolVerbs,
      presence,
      {} as CommandsService,
      clock,
      new LoggerFactory(),
    );
  });

  it('tells presence once per refresh window however fast a connection pings, and answers every ping', async () => {
    const state: ConnectionState = { connectionId: 'c-1', principal: DEVICE, subscriptions: [] };
    for (let i = 0; i < 20; i++) {
      expect(await gateway.handleFrame(state, JSON.stringify({ type: 'ping', id: `p${i}` }), session)).toMatchObject({
        type: 'pong',
        id: `p${i}`,
      });
    }
    expect(seen).toBe(1);

    now += PRESENCE_REFRESH_SECONDS * 1000;
    await gateway.handleFrame(state, JSON.stringify({ type: 'ping' }), session);
    expect(seen).toBe(2);
  });

  it('tells presence nothing for a connection that has not said hello', async () => {
    const state: ConnectionState = { connectionId: 'c-2', principal: null, subscriptions: [] };
    expect(await gateway.handleFrame(state, JSON.stringify({ type: 'ping' }), session)).toMatchObject({ type: 'pong' });
    expect(seen).toBe(0);
  });
});
