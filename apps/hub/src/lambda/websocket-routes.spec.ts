import { DomainError, ErrorCode, type Principal } from '@marvain/contracts';
import type { PrincipalResolver } from '@marvain/identity';
import { LoggerFactory, type Clock, type HubLogger } from '@marvain/platform';
import type { PresenceService } from '@marvain/presence';
import { MemoryConnectionStore, RealtimeGateway, StoredConnections, type ProtocolVerbs } from '@marvain/realtime';
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

/** Presence is another part's; these routes only need its calls to succeed. */
const presence = {
  connected: () => Promise.resolve(),
  disconnected: () => Promise.resolve(),
  seen: () => Promise.resolve(),
} as unknown as PresenceService;

describe('WebSocketRoutes', () => {
  let store: MemoryConnectionStore;
  let gateway: RealtimeGateway;
  let routes: WebSocketRoutes;
  let logger: HubLogger & { error: jest.Mock };

  beforeEach(() => {
    store = new MemoryConnectionStore(clock);
    gateway = new RealtimeGateway(resolver, {} as ProtocolVerbs, presence, clock, new LoggerFactory());
    logger = { log: jest.fn(), warn: jest.fn(), error: jest.fn(), debug: jest.fn() };
    routes = new WebSocketRoutes(
      new StoredConnections(gateway, resolver, store, clock, CONNECTION_TTL_SECONDS),
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
      connected_at: opened.toISOString(),
      expires_at: opened.getTime() / 1000 + CONNECTION_TTL_SECONDS,
    });
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
});
