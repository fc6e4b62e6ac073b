import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import type { Clock } from '@marvain/platform';
import { MemoryConnectionStore } from './memory-connection-store';
import { WebSocketPush, type PushSocket } from './websocket-push';

const clock: Clock = { now: () => new Date('2026-11-20T10:00:00.000Z') };

async function seed(store: MemoryConnectionStore, id: string): Promise<void> {
  await store.put({
    connection_id: id,
    principal: { type: 'user', id: 'u1', agents: [{ agent_id: 'a1', scopes: ['events:read'] }] },
    agent_ids: ['a1'],
    connected_at: '2026-11-20T10:00:00.000Z',
    expires_at: Date.parse('2026-11-20T11:00:00.000Z') / 1000,
  });
}

describe('WebSocketPush over real ws sockets', () => {
  let server: WebSocketServer;
  let url: string;
  let serverSockets: WebSocket[];
  let clients: WebSocket[];

  beforeEach(async () => {
    serverSockets = [];
    clients = [];
    server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    server.on('connection', (ws) => serverSockets.push(ws));
    await once(server, 'listening');
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    for (const client of clients) {
      client.terminate();
    }
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function connect(): Promise<{ client: WebSocket; socket: WebSocket }> {
    const client = new WebSocket(url);
    clients.push(client);
    await once(client, 'open');
    while (serverSockets.length < clients.length) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return { client, socket: serverSockets[clients.length - 1]! };
  }

  it('sends the message as one JSON text frame to the registered socket', async () => {
    const store = new MemoryConnectionStore(clock);
    const push = new WebSocketPush(store);
    const { client, socket } = await connect();
    push.register('c1', socket);
    await seed(store, 'c1');

    const received = once(client, 'message');
    expect(await push.send('c1', { type: 'action_updated', action_id: 'x1', status: 'executed' })).toBe('sent');
    const [data, isBinary] = (await received) as [Buffer, boolean];
    expect(isBinary).toBe(false);
    expect(JSON.parse(data.toString('utf8'))).toEqual({ type: 'action_updated', action_id: 'x1', status: 'executed' });
    expect(await store.get('c1')).not.toBeNull();
  });

  it('answers gone for a closed socket and removes it from the registry and the store', async () => {
    const store = new MemoryConnectionStore(clock);
    const push = new WebSocketPush(store);
    const { client, socket } = await connect();
    push.register('c1', socket);
    await seed(store, 'c1');

    client.close();
    await once(socket, 'close');
    expect(await push.send('c1', { type: 'pong' })).toBe('gone');
    expect(await store.get('c1')).toBeNull();
    // Registered again with an open socket, it sends: the registry had dropped the dead one.
    const second = await connect();
    push.register('c1', second.socket);
    expect(await push.send('c1', { type: 'pong' })).toBe('sent');
  });

  it('answers gone for a connection id that was never registered or was unregistered', async () => {
    const store = new MemoryConnectionStore(clock);
    await seed(store, 'c2');
    const push = new WebSocketPush(store);
    expect(await push.send('nobody', { type: 'pong' })).toBe('gone');

    const { client, socket } = await connect();
    push.register('c2', socket);
    push.unregister('c2');
    let got = false;
    client.on('message', () => (got = true));
    expect(await push.send('c2', { type: 'pong' })).toBe('gone');
    expect(await store.get('c2')).toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(got).toBe(false);
  });

  it('answers gone when the socket closes during the send, and throws other send failures', async () => {
    const store = new MemoryConnectionStore(clock);
    const push = new WebSocketPush(store);
    const closing: PushSocket & { readyState: number } = {
      readyState: 1,
      send(_data, callback) {
        this.readyState = 3;
        callback(new Error('WebSocket is not open'));
      },
      close: () => undefined,
    };
    push.register('c3', closing);
    await seed(store, 'c3');
    expect(await push.send('c3', { type: 'pong' })).toBe('gone');
    expect(await store.get('c3')).toBeNull();

    const failing: PushSocket = {
      readyState: 1,
      send: (_data, callback) => callback(new Error('frame too large')),
      close: () => undefined,
    };
    push.register('c4', failing);
    await seed(store, 'c4');
    await expect(push.send('c4', { type: 'pong' })).rejects.toThrow('frame too large');
    expect(await store.get('c4')).not.toBeNull();
  });

  it('close closes the socket with the code and reason, and removes the connection', async () => {
    const store = new MemoryConnectionStore(clock);
    const push = new WebSocketPush(store);
    const { client, socket } = await connect();
    push.register('c1', socket);
    await seed(store, 'c1');
    const closed = once(client, 'close');
    await push.close('c1', 4401, 'credential revoked');
    const [code, reason] = (await closed) as [number, Buffer];
    expect([code, reason.toString('utf8')]).toEqual([4401, 'credential revoked']);
    expect(await store.get('c1')).toBeNull();
    expect(await push.send('c1', { type: 'pong' })).toBe('gone');
    await push.close('never', 4401, 'credential revoked');
  });
});
