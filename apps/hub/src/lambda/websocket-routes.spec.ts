import { DomainError, ErrorCode, type Principal } from '@marvain/contracts';
import type { CommandsService } from '@marvain/commands';
import type { PrincipalResolver } from '@marvain/identity';
import { LoggerFactory, type Clock, type HubLogger } from '@marvain/platform';
import type { PresenceService } from '@marvain/presence';
import {
  MemoryConnectionStore,
  RealtimeGateway,
  StoredConnections,
  type ConnectionPush,
  type ProtocolVerbs,
} from '@marvain/realtime';
import { connectEvent, disconnectEvent, messageEvent } from './testing/lambda-events';
import { CONNECTION_TTL_SECONDS, WebSocketRoutes, type WebSocketEvent } from './websocket-routes';

const NOW = new Date('2026-11-20T10:00:00.000Z');
const clock: Clock = { now: () => new Date(NOW) };

const DEVICE: Principal = { type: 'device', id: 'dev-1', agents: [{ agent_id: 'agent-1', scopes: ['events:write'] }] };
const USER: Principal = {
  type: 'user',
  id: 'user-1',
  agents: [
    { agent_id: 'agent-1', scopes: ['events:*'] },
    { agent_id: 'agent-2', scopes: ['events:read'] },
  ],
};

/** Knows two tokens; anything else is unauthenticated, and "boom" fails as a database outage would. */
const resolver = {
  resolve: (token: string): Promise<Principal> => {
    if (token === 'device-token') {
      return Promise.resolve(DEVICE);
    }
    if (token === 'user-token') {
      return Promise.resolve(USER);
    }
    if (token === 'boom') {
      return Promise.reject(new Error('connection refused'));
    }
    return Promise.reject(new DomainError(ErrorCode.Unauthenticated, 'unknown device token'));
  },
} as PrincipalResolver;

/** Presence is another part's: these routes only call it, and the calls are recorded. */
function recordingPresence(): PresenceService & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    connected: (p: Principal) => Promise.resolve(void calls.push(`connected ${p.id}`)),
    disconnected: (p: Principal) => Promise.resolve(void calls.push(`disconnected ${p.id}`)),
    seen: () => Promise.resolve(),
  } as unknown as PresenceService & { calls: string[] };
}

/** The Management API as the connections see it: what was pushed, and which were closed. */
class RecordingPush implements ConnectionPush {
  readonly sent: Array<{ connectionId: string; message: object }> = [];
  readonly closed: Array<{ connectionId: string; code: number }> = [];
  constructor(private readonly store: MemoryConnectionStore) {}
  send(connectionId: string, message: object): Promise<'sent' | 'gone'> {
    this.sent.push({ connectionId, message });
    return Promise.resolve('sent');
  }
  async close(connectionId: string, code: number): Promise<void> {
    this.closed.push({ connectionId, code });
    await this.store.delete(connectionId);
  }
}

/** No stream entries: replay is proven where the gateway subscribes (the bundle spec). */
const emptyStream = { head: () => Promise.resolve(0), read: () => Promise.resolve([]) };

describe('WebSocketRoutes', () => {
  let store: MemoryConnectionStore;
  let gateway: RealtimeGateway;
  const noCommands = { hasPending: () => Promise.resolve(false) } as unknown as CommandsService;
  let routes: WebSocketRoutes;
  let logger: HubLogger & { error: jest.Mock };
  let presence: ReturnType<typeof recordingPresence>;
  let push: RecordingPush;

  beforeEach(() => {
    store = new MemoryConnectionStore(clock);
    presence = recordingPresence();
    push = new RecordingPush(store);
    gateway = new RealtimeGateway(resolver, {} as ProtocolVerbs, presence, noCommands, clock, new LoggerFactory());
    logger = { log: jest.fn(), warn: jest.fn(), error: jest.fn(), debug: jest.fn() };
    routes = new WebSocketRoutes(
      new StoredConnections(
        { gateway, resolver, presence, store, push, stream: emptyStream, clock, logger },
        { ttlSeconds: CONNECTION_TTL_SECONDS, maxConnectionsPerPrincipal: 2, maxReplay: 10 },
      ),
      gateway,
      logger,
    );
  });

  const connectedAt = (event: WebSocketEvent, at: Date): WebSocketEvent => {
    event.requestContext.connectedAt = at.getTime();
    return event;
  };

  it('$connect stores the principal from a bearer Authorization header, expiring with API Gateway’s two-hour limit', async () => {
    const opened = new Date('2026-11-20T09:59:30.000Z');
    const event = connectedAt(connectEvent('c1', { header: 'device-token' }), opened);
    expect(await routes.handle(event)).toEqual({ statusCode: 200 });
    expect(await store.get('c1')).toEqual({
      connection_id: 'c1',
      principal: DEVICE,
      agent_ids: ['agent-1'],
      subscriptions: [],
      connected_at: opened.toISOString(),
      last_seen: NOW.toISOString(),
      expires_at: opened.getTime() / 1000 + CONNECTION_TTL_SECONDS,
    });
    expect(presence.calls).toEqual(['connected dev-1']);
  });

  it('$connect refuses a principal’s connection past its cap with 429, storing nothing', async () => {
    expect(await routes.handle(connectEvent('c1', { query: 'device-token' }))).toEqual({ statusCode: 200 });
    expect(await routes.handle(connectEvent('c2', { query: 'device-token' }))).toEqual({ statusCode: 200 });
    expect(await routes.handle(connectEvent('c3', { query: 'device-token' }))).toMatchObject({ statusCode: 429 });
    expect(await store.get('c3')).toBeNull();
    // Another principal is not counted against it; a closed connection frees its place.
    expect(await routes.handle(connectEvent('u1', { query: 'user-token' }))).toEqual({ statusCode: 200 });
    await routes.handle(disconnectEvent('c1'));
    expect(await routes.handle(connectEvent('c3', { query: 'device-token' }))).toEqual({ statusCode: 200 });
  });

  it('a hello that would pass the cap is refused, its reply pushed, then the connection closed with 4429', async () => {
    await routes.handle(connectEvent('c1', { query: 'device-token' }));
    await routes.handle(connectEvent('c2', { query: 'device-token' }));
    // A connection whose row was lost says hello as the same device: a third connection.
    const reply = await routes.handle(messageEvent('lost', { type: 'hello', id: 'h1', token: 'device-token' }));
    expect(reply).toEqual({ statusCode: 200 });
    expect(push.sent).toEqual([
      {
        connectionId: 'lost',
        message: expect.objectContaining({
          type: 'error',
          id: 'h1',
          error: expect.objectContaining({ code: 'rate_limited' }),
        }),
      },
    ]);
    expect(push.closed).toEqual([{ connectionId: 'lost', code: 4429 }]);
    expect(await store.get('lost')).toBeNull();
  });

  it('$connect takes the token from the query string, which browsers can set', async () => {
    expect(await routes.handle(connectEvent('c1', { query: 'user-token' }))).toEqual({ statusCode: 200 });
    expect((await store.get('c1'))?.agent_ids).toEqual(['agent-1', 'agent-2']);
  });

  it('$connect refuses a connection without credentials or with unknown ones, storing nothing', async () => {
    expect(await routes.handle(connectEvent('c1'))).toMatchObject({ statusCode: 401 });
    expect(await routes.handle(connectEvent('c2', { query: 'stolen' }))).toEqual({
      statusCode: 401,
      body: 'unknown device token',
    });
    expect(await routes.handle(connectEvent('c3', { header: 'stolen' }))).toMatchObject({ statusCode: 401 });
    expect(await store.get('c1')).toBeNull();
    expect(await store.get('c2')).toBeNull();
    expect(await store.get('c3')).toBeNull();
  });

  it('$connect lets an outage fail the invocation (API Gateway answers 500) rather than calling it a bad credential', async () => {
    await expect(routes.handle(connectEvent('c1', { query: 'boom' }))).rejects.toThrow('connection refused');
  });

  it('$default answers frames through the gateway, as the route response', async () => {
    await routes.handle(connectEvent('c1', { query: 'device-token' }));
    const pong = await routes.handle(messageEvent('c1', { type: 'ping', id: 'p1' }));
    expect(pong).toEqual({ statusCode: 200, body: JSON.stringify({ type: 'pong', id: 'p1', ts: NOW.toISOString() }) });
    const unknown = await routes.handle(messageEvent('c1', { type: 'dance' }));
    expect(JSON.parse(unknown.body ?? '')).toMatchObject({ type: 'error', error: { code: 'validation_failed' } });
  });

  it('$default applies the protocol rules the local server does: short ids only, nothing but hello and ping without a principal', async () => {
    await routes.handle(connectEvent('c1', { query: 'device-token' }));
    const long = await routes.handle(messageEvent('c1', { type: 'ping', id: 'x'.repeat(5000) }));
    expect(JSON.parse(long.body ?? '')).toEqual({
      type: 'error',
      id: 'x'.repeat(64),
      error: { code: 'validation_failed', message: expect.any(String) },
    });
    // A connection whose row has gone holds no principal until it says hello.
    expect(
      JSON.parse((await routes.handle(messageEvent('gone', { type: 'list_actions', id: 'a' }))).body ?? ''),
    ).toMatchObject({
      type: 'error',
      id: 'a',
      error: { code: 'unauthenticated' },
    });
    expect(JSON.parse((await routes.handle(messageEvent('gone', { type: 'ping', id: 'p' }))).body ?? '')).toMatchObject(
      { type: 'pong', id: 'p' },
    );
  });

  it('$default decodes a base64 body', async () => {
    const event = messageEvent('c1', '');
    event.body = Buffer.from(JSON.stringify({ type: 'ping' })).toString('base64');
    event.isBase64Encoded = true;
    expect(JSON.parse((await routes.handle(event)).body ?? '')).toMatchObject({ type: 'pong' });
  });

  it('a hello as another principal is refused conflict, changing nothing stored', async () => {
    await routes.handle(connectEvent('c1', { query: 'device-token' }));
    const before = await store.get('c1');
    const hello = await routes.handle(messageEvent('c1', { type: 'hello', id: 'h1', token: 'user-token' }));
    expect(JSON.parse(hello.body ?? '')).toMatchObject({ type: 'error', id: 'h1', error: { code: 'conflict' } });
    expect(await store.get('c1')).toEqual(before);
  });

  it('a hello as the connected principal answers hello_ok, keeping the connection’s expiry', async () => {
    await routes.handle(connectEvent('c1', { query: 'user-token' }));
    const before = await store.get('c1');
    const hello = await routes.handle(messageEvent('c1', { type: 'hello', id: 'h1', token: 'user-token' }));
    expect(JSON.parse(hello.body ?? '')).toMatchObject({
      type: 'hello_ok',
      id: 'h1',
      principal: { type: 'user', id: 'user-1', agent_ids: ['agent-1', 'agent-2'] },
    });
    expect(await store.get('c1')).toMatchObject({ principal: USER, expires_at: before?.expires_at });
  });

  it('a failed hello changes nothing stored', async () => {
    await routes.handle(connectEvent('c1', { query: 'device-token' }));
    const before = await store.get('c1');
    const hello = await routes.handle(messageEvent('c1', { type: 'hello', token: 'stolen' }));
    expect(JSON.parse(hello.body ?? '')).toMatchObject({ type: 'error', error: { code: 'unauthenticated' } });
    expect(await store.get('c1')).toEqual(before);
  });

  it('a connection whose row is gone can still ping, and a hello stores it again', async () => {
    expect(JSON.parse((await routes.handle(messageEvent('lost', { type: 'ping' }))).body ?? '')).toMatchObject({
      type: 'pong',
    });
    expect(await store.get('lost')).toBeNull();
    await routes.handle(messageEvent('lost', { type: 'hello', token: 'device-token' }));
    expect(await store.get('lost')).toMatchObject({ connection_id: 'lost', principal: DEVICE, agent_ids: ['agent-1'] });
  });

  it('an unexpected failure answers an internal error frame and is logged', async () => {
    jest.spyOn(gateway, 'handleFrame').mockRejectedValueOnce(new Error('pool exhausted'));
    const reply = await routes.handle(messageEvent('c1', { type: 'ping' }));
    expect(JSON.parse(reply.body ?? '')).toEqual({
      type: 'error',
      error: { code: 'internal', message: 'internal error' },
    });
    expect(String(logger.error.mock.calls[0]?.[0])).toContain('pool exhausted');
  });

  it('$disconnect deletes the connection, and a second one is harmless', async () => {
    await routes.handle(connectEvent('c1', { query: 'device-token' }));
    expect(await routes.handle(disconnectEvent('c1'))).toEqual({ statusCode: 200 });
    expect(await store.get('c1')).toBeNull();
    expect(await routes.handle(disconnectEvent('c1'))).toEqual({ statusCode: 200 });
  });

  it('$disconnect tells presence the principal went offline only when it was its last connection', async () => {
    await routes.handle(connectEvent('c1', { query: 'device-token' }));
    await routes.handle(connectEvent('c2', { query: 'device-token' }));
    await routes.handle(connectEvent('u1', { query: 'user-token' }));
    await routes.handle(disconnectEvent('c1'));
    expect(presence.calls).not.toContain('disconnected dev-1');
    await routes.handle(disconnectEvent('c2'));
    expect(presence.calls.filter((call) => call.startsWith('disconnected'))).toEqual(['disconnected dev-1']);
  });
});
