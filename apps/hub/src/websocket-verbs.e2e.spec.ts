import { sql } from 'kysely';
import { randomUUID } from 'node:crypto';
import { ActionsService } from '@marvain/actions';
import { HEARTBEAT_INTERVAL_SECONDS, PROTOCOL_VERSION, WsCloseCode } from '@marvain/contracts';
import { asUuid, TransactionRunner } from '@marvain/db';
import { testDatabaseKind } from '@marvain/db/testing';
import type { BootstrapResult } from '@marvain/identity';
import { CONNECTION_STORE, LocalWebSocketServer, type ConnectionStore } from '@marvain/realtime';
import { AgentStream } from '@marvain/streams';
import { openHubTestServer, type HubTestServer } from './testing/hub-test-server';
import { RawWebSocket } from './testing/raw-websocket';

jest.setTimeout(60_000);

/** Polls `done` until it holds (what a closed socket sets off happens after its close event). */
async function waitFor(done: () => Promise<boolean>): Promise<void> {
  while (!(await done())) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

type Message = Record<string, any>;

/** The happy path of every verb, one client each; the exhaustive matrix and sweeps live elsewhere. */
describe(`the WebSocket verbs (${testDatabaseKind()})`, () => {
  let hub: HubTestServer;
  let home: BootstrapResult;
  let other: BootstrapResult;
  const sockets: RawWebSocket[] = [];

  beforeAll(async () => {
    hub = await openHubTestServer({
      beforeListen: (app) =>
        app.get(LocalWebSocketServer).attach(app.getHttpServer(), { maxConnectionsPerPrincipal: 3 }),
    });
    home = await hub.bootstrap();
    other = await hub.bootstrap('Elsewhere', 'away');
  });
  afterEach(() => sockets.splice(0).forEach((socket) => socket.destroy()));
  afterAll(async () => {
    await hub.app.get(LocalWebSocketServer).close();
    await hub.close();
  });

  async function open(): Promise<RawWebSocket> {
    const socket = await RawWebSocket.open(hub.base);
    sockets.push(socket);
    return socket;
  }

  const ask = (socket: RawWebSocket, frame: Message): Promise<Message> => socket.ask<Message>(frame);

  async function helloed(token: string): Promise<RawWebSocket> {
    const socket = await open();
    expect(await ask(socket, { type: 'hello', token })).toMatchObject({ type: 'hello_ok' });
    return socket;
  }

  const streamed = (socket: RawWebSocket): Message[] =>
    (socket.messages() as Message[]).filter((m) => m['type'] === 'stream');

  async function appendEvents(agentId: string, spaceId: string, count: number): Promise<number[]> {
    const stream = hub.app.get(AgentStream);
    return hub.app.get(TransactionRunner).run(async (tx) => {
      const seqs: number[] = [];
      for (let i = 0; i < count; i += 1) {
        seqs.push(
          (await stream.append(tx, { agent_id: agentId, topic: 'events.new', space_id: spaceId, data: { i } })).seq,
        );
      }
      return seqs;
    });
  }

  it('hello answers the protocol, the principal with its scopes per agent, the connection id and the heartbeat interval', async () => {
    const socket = await open();
    const reply = await ask(socket, { type: 'hello', token: home.device_token });
    expect(reply).toEqual({
      type: 'hello_ok',
      id: expect.any(String),
      protocol: PROTOCOL_VERSION,
      principal: {
        type: 'device',
        id: home.device_id,
        agent_ids: [home.agent_id],
        scopes: { [home.agent_id]: expect.arrayContaining(['events:write', 'presence:write']) },
      },
      connection_id: expect.any(String),
      heartbeat_interval_s: HEARTBEAT_INTERVAL_SECONDS,
    });
    // The same principal may hello again; another principal may not take the connection over.
    expect(await ask(socket, { type: 'hello', token: home.device_token })).toMatchObject({
      type: 'hello_ok',
      connection_id: reply['connection_id'],
    });
    expect(await ask(socket, { type: 'hello', token: home.user_token })).toMatchObject({
      type: 'error',
      error: { code: 'conflict' },
    });
  });

  it('keeps the connection record (principal, agents, subscriptions, times) while the socket is open', async () => {
    const store = hub.app.get<ConnectionStore>(CONNECTION_STORE);
    const socket = await open();
    const hello = await ask(socket, { type: 'hello', token: home.user_token });
    const connectionId = hello['connection_id'] as string;
    expect(await store.get(connectionId)).toMatchObject({
      connection_id: connectionId,
      principal: { type: 'user', id: home.user_id },
      agent_ids: [home.agent_id],
      subscriptions: [],
      connected_at: expect.any(String),
      last_seen: expect.any(String),
    });
    await ask(socket, { type: 'subscribe', agent_id: home.agent_id, topics: ['events.new'] });
    expect((await store.get(connectionId))?.subscriptions).toEqual([
      { agent_id: home.agent_id, space_id: null, topics: ['events.new'] },
    ]);
    socket.destroy();
    await waitFor(async () => (await store.get(connectionId)) === null);
  });

  it('refuses a principal its connection past the cap with an error, then closes it with 4429', async () => {
    for (let i = 0; i < 3; i += 1) {
      await helloed(other.device_token);
    }
    const fourth = await open();
    expect(await ask(fourth, { type: 'hello', token: other.device_token })).toMatchObject({
      type: 'error',
      error: { code: 'rate_limited' },
    });
    expect((await fourth.closed()).code).toBe(WsCloseCode.TooManyConnections);
  });

  it('ping answers pong; heartbeat refreshes the device’s heartbeat', async () => {
    const socket = await helloed(home.device_token);
    expect(await ask(socket, { type: 'ping' })).toMatchObject({ type: 'pong', ts: expect.any(String) });
    const beat = await ask(socket, { type: 'heartbeat', space_id: home.space_id, status: 'online' });
    expect(beat).toMatchObject({ type: 'heartbeat_ok', ts: expect.any(String) });
    const device = await hub.call('GET', `/v1/devices/${home.device_id}`, home.user_token);
    expect(device.json.last_heartbeat_at).toBe(beat['ts']);
  });

  it('send_event and push_transcript store events like POST /v1/events, idempotent by client_event_id', async () => {
    const socket = await helloed(home.device_token);
    const clientEventId = randomUUID();
    const sent = await ask(socket, {
      type: 'send_event',
      event: { space_id: home.space_id, type: 'note', payload: { text: 'milk' }, client_event_id: clientEventId },
    });
    expect(sent).toMatchObject({ type: 'event_ack', event_id: expect.any(String), stored: true, duplicate: false });
    const again = await ask(socket, {
      type: 'send_event',
      event: { space_id: home.space_id, type: 'note', payload: { text: 'milk' }, client_event_id: clientEventId },
    });
    expect(again).toMatchObject({ type: 'event_ack', event_id: sent['event_id'], duplicate: true });

    const transcript = await ask(socket, { type: 'push_transcript', space_id: home.space_id, text: 'hello there' });
    expect(transcript).toMatchObject({ type: 'event_ack', stored: true, duplicate: false });
    const entries = await hub.app.get(AgentStream).read(home.agent_id, 1, { topics: ['events.new'] });
    expect(entries.map((e) => e.data['event_id'])).toEqual(
      expect.arrayContaining([sent['event_id'], transcript['event_id']]),
    );
  });

  it('answers bad fields with validation_failed naming each field, like REST', async () => {
    const socket = await helloed(home.device_token);
    const reply = await ask(socket, {
      type: 'send_event',
      event: { space_id: 'nope', type: 'Bad Type', payload: 'text', extra: 1 },
    });
    expect(reply).toMatchObject({ type: 'error', error: { code: 'validation_failed' } });
    const fields = (reply['error']['details']['fields'] as Array<{ field: string }>).map((f) => f.field).sort();
    expect(fields).toEqual(['event.extra', 'event.payload', 'event.space_id', 'event.type']);
  });

  it('list_actions, approve_action and reject_action act like their REST twins', async () => {
    const propose = async (): Promise<string> => {
      const actionId = randomUUID();
      await hub.app.get(TransactionRunner).run((tx) =>
        hub.app.get(ActionsService).propose(
          tx,
          {
            action_id: actionId,
            agent_id: home.agent_id,
            space_id: home.space_id,
            kind: 'send_message',
            payload: { text: 'hi' },
            required_scopes: [],
            reason: null,
            source_event_id: null,
          },
          { type: 'system', id: 'spec' },
        ),
      );
      return actionId;
    };
    const [first, second] = [await propose(), await propose()];
    const owner = await helloed(home.user_token);
    const list = await ask(owner, { type: 'list_actions', agent_id: home.agent_id, status: 'proposed' });
    expect(list).toMatchObject({ type: 'actions', next_cursor: null });
    expect((list['actions'] as Message[]).map((a) => a['action_id'])).toEqual(expect.arrayContaining([first, second]));

    expect(await ask(owner, { type: 'approve_action', action_id: first })).toMatchObject({
      type: 'action',
      action: { action_id: first, status: 'approved' },
    });
    expect(await ask(owner, { type: 'approve_action', action_id: first })).toMatchObject({
      type: 'error',
      error: { code: 'action_invalid_transition' },
    });
    expect(await ask(owner, { type: 'reject_action', action_id: second, reason: 'not now' })).toMatchObject({
      type: 'action',
      action: { action_id: second, status: 'rejected' },
    });
    // Another agent's action answers like a missing one; a device may not approve.
    const stranger = await helloed(other.user_token);
    expect(await ask(stranger, { type: 'reject_action', action_id: await propose() })).toMatchObject({
      error: { code: 'not_found' },
    });
    const device = await helloed(home.device_token);
    expect(await ask(device, { type: 'approve_action', action_id: await propose() })).toMatchObject({
      error: { code: 'forbidden' },
    });
  });

  it('subscribe replays from from_seq, then tails live entries, in order; unsubscribe stops them', async () => {
    const before = await appendEvents(home.agent_id, home.space_id, 3);
    const socket = await helloed(home.user_token);
    const from = before[1] as number;
    const subscribed = await ask(socket, {
      type: 'subscribe',
      agent_id: home.agent_id,
      topics: ['events.new'],
      from_seq: from,
    });
    expect(subscribed).toMatchObject({
      type: 'subscribed',
      agent_id: home.agent_id,
      space_id: null,
      topics: ['events.new'],
    });
    // The head when subscribed: at least the last appended (the hello itself streams presence).
    expect(subscribed['last_seq']).toBeGreaterThanOrEqual(before[2] as number);
    const live = await appendEvents(home.agent_id, home.space_id, 2);
    const last = live[1] as number;
    await socket.message<Message>((m) => m['type'] === 'stream' && m['seq'] === last);
    expect(streamed(socket).map((m) => m['seq'])).toEqual([from, before[2], ...live]);
    // The reply came before any stream message.
    const messages = socket.messages() as Message[];
    expect(messages.findIndex((m) => m['type'] === 'subscribed')).toBeLessThan(
      messages.findIndex((m) => m['type'] === 'stream'),
    );

    expect(await ask(socket, { type: 'unsubscribe', agent_id: home.agent_id })).toMatchObject({
      type: 'unsubscribed',
      agent_id: home.agent_id,
    });
    await appendEvents(home.agent_id, home.space_id, 1);
    expect(await ask(socket, { type: 'ping' })).toMatchObject({ type: 'pong' });
    expect(streamed(socket).map((m) => m['seq'])).toEqual([from, before[2], ...live]);
  });

  it('subscribe refuses another agent like a missing one, unknown topics, topics without scope, expired seqs', async () => {
    const socket = await helloed(home.device_token);
    const missing = await ask(socket, { type: 'subscribe', agent_id: randomUUID() });
    const foreign = await ask(socket, { type: 'subscribe', agent_id: other.agent_id });
    expect(foreign['error']['code']).toBe('not_found');
    expect(foreign['error']['message'].replace(other.agent_id, 'X')).toBe(
      missing['error']['message'].replace(/[0-9a-f-]{36}/, 'X'),
    );
    expect(await ask(socket, { type: 'subscribe', agent_id: home.agent_id, topics: ['gossip'] })).toMatchObject({
      error: { code: 'validation_failed', details: { fields: [expect.objectContaining({ field: 'topics' })] } },
    });
    expect(await ask(socket, { type: 'subscribe', agent_id: home.agent_id, space_id: other.space_id })).toMatchObject({
      error: { code: 'not_found' },
    });

    // The default device scopes read no memories.
    const device = await hub.call('POST', `/v1/agents/${home.agent_id}/devices`, home.user_token, {
      name: 'listener',
      scopes: ['events:read'],
    });
    const listener = await helloed(device.json.token);
    expect(await ask(listener, { type: 'subscribe', agent_id: home.agent_id, topics: ['memories.new'] })).toMatchObject(
      { error: { code: 'forbidden', details: { topics: ['memories.new'] } } },
    );
    expect(await ask(listener, { type: 'subscribe', agent_id: home.agent_id })).toMatchObject({
      type: 'subscribed',
      topics: ['events.new'],
    });

    await appendEvents(home.agent_id, home.space_id, 2);
    await hub.kysely
      .deleteFrom('agent_stream')
      .where('agent_id', '=', asUuid(home.agent_id))
      .where('seq', '<=', sql<string>`2::bigint`)
      .execute();
    expect(await ask(socket, { type: 'subscribe', agent_id: home.agent_id, from_seq: 1 })).toMatchObject({
      error: { code: 'stream_expired', details: { oldest_seq: 3 } },
    });
  });

  it('subscribe_presence answers the snapshot, then presence.updated as it changes', async () => {
    const owner = await helloed(home.user_token);
    const reply = await ask(owner, { type: 'subscribe_presence', agent_id: home.agent_id, space_id: home.space_id });
    expect(reply).toMatchObject({ type: 'presence', agent_id: home.agent_id, space_id: home.space_id });
    expect(Array.isArray(reply['presence'])).toBe(true);

    const beat = await hub.call('POST', '/v1/devices/heartbeat', home.device_token, {
      space_id: home.space_id,
      status: 'away',
    });
    expect(beat.status).toBe(200);
    const update = await owner.message<Message>(
      (m) => m['type'] === 'stream' && m['topic'] === 'presence.updated' && m['data']['status'] === 'away',
    );
    expect(update).toMatchObject({
      agent_id: home.agent_id,
      space_id: home.space_id,
      data: { subject_type: 'device', subject_id: home.device_id },
    });
  });
});
