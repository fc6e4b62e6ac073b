import { STREAM_TOPICS, type StreamTopic } from '@marvain/contracts';
import { testDatabaseKind } from '@marvain/db/testing';
import type { BootstrapResult } from '@marvain/identity';
import { testHubConfig } from '@marvain/platform/testing';
import { LocalWebSocketServer } from '@marvain/realtime';
import { HubSocket, type Reply } from './testing/hub-socket';
import { openHubTestServer, type HubTestServer } from './testing/hub-test-server';

// Opening the hub on a fresh database takes seconds on a busy machine.
jest.setTimeout(120_000);

/*
 * Every topic of an agent's stream, end to end: a change made through the hub's public surface
 * (REST, the WebSocket verbs, the planner working in the background) reaches a subscribed `ws`
 * client as a `stream` message, filtered by topic, by space and by the subscriber's scopes.
 */
describe(`every stream topic reaches its subscribers (${testDatabaseKind()})`, () => {
  let hub: HubTestServer;
  const sockets: HubSocket[] = [];

  beforeAll(async () => {
    hub = await openHubTestServer({
      config: testHubConfig({
        workers: true,
        queue: { visibilityTimeoutSeconds: 30, maxReceives: 5, pollIntervalMs: 100 },
      }),
      beforeListen: (app) => app.get(LocalWebSocketServer).attach(app.getHttpServer()),
    });
  });
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((s) => s.close()));
  });
  afterAll(async () => {
    await hub.app.get(LocalWebSocketServer).close();
    await hub.close();
  });

  const open = async (token: string): Promise<HubSocket> => {
    const socket = await HubSocket.open(hub.base, token);
    sockets.push(socket);
    return socket;
  };

  /** A socket of `token` subscribed to `agentId` (topics omitted: all it may read). */
  const subscriber = async (
    token: string,
    agentId: string,
    options: { topics?: StreamTopic[]; space_id?: string } = {},
  ): Promise<{ socket: HubSocket; subscribed: Reply }> => {
    const socket = await open(token);
    const subscribed = await socket.request({ type: 'subscribe', agent_id: agentId, ...options });
    expect(subscribed).toMatchObject({ type: 'subscribed', agent_id: agentId });
    return { socket, subscribed };
  };

  const device = async (home: BootstrapResult, scopes: string[]): Promise<{ id: string; token: string }> => {
    const created = await hub.call('POST', `/v1/agents/${home.agent_id}/devices`, home.user_token, {
      name: `device ${scopes.join(' ')}`,
      scopes,
    });
    expect(created.status).toBe(201);
    return { id: created.json.device.device_id, token: created.json.token };
  };

  const postEvent = async (
    token: string,
    spaceId: string,
    type = 'note',
    payload: Record<string, unknown> = { text: 'hello' },
  ): Promise<string> => {
    const posted = await hub.call('POST', '/v1/events', token, { space_id: spaceId, type, payload });
    expect(posted.status).toBe(202);
    return posted.json.event_id as string;
  };

  const heartbeat = async (token: string, spaceId: string, status: 'online' | 'away'): Promise<void> => {
    expect((await hub.call('POST', '/v1/devices/heartbeat', token, { space_id: spaceId, status })).status).toBe(200);
  };

  /** The stream message on `topic` whose data matches `data`. */
  const entryOf =
    (topic: StreamTopic, data: Record<string, unknown>) =>
    (m: Reply): boolean =>
      m.type === 'stream' &&
      m['topic'] === topic &&
      Object.entries(data).every(([key, value]) => m['data'][key] === value);

  const expectIncreasingSeqs = (socket: HubSocket): void => {
    const seqs = socket.entries().map((e) => e.seq);
    expect(seqs).toEqual([...new Set(seqs)].sort((a, b) => a - b));
  };

  it('events.new: an event posted over REST, sent with send_event and pushed as a transcript', async () => {
    const home = await hub.bootstrap('Herald', 'home');
    const { socket, subscribed } = await subscriber(home.user_token, home.agent_id, { topics: ['events.new'] });
    expect(subscribed).toMatchObject({ space_id: null, topics: ['events.new'], last_seq: expect.any(Number) });

    const restId = await postEvent(home.device_token, home.space_id, 'note', { text: 'over REST' });
    const rest = await socket.next(entryOf('events.new', { event_id: restId }), 'the REST event');
    expect(rest).toMatchObject({
      type: 'stream',
      agent_id: home.agent_id,
      space_id: home.space_id,
      topic: 'events.new',
      data: { event_id: restId, type: 'note', payload: { text: 'over REST' } },
      at: expect.any(String),
    });
    expect(rest['seq']).toBeGreaterThan(subscribed['last_seq']);

    const sender = await open(home.device_token);
    const ack = await sender.request({
      type: 'send_event',
      event: { space_id: home.space_id, type: 'note', payload: { text: 'over the socket' } },
    });
    expect(ack).toMatchObject({ type: 'event_ack', stored: true, duplicate: false, event_id: expect.any(String) });
    await socket.next(entryOf('events.new', { event_id: ack['event_id'] }), 'the send_event event');

    const pushed = await sender.request({ type: 'push_transcript', space_id: home.space_id, text: 'a transcript' });
    expect(pushed).toMatchObject({ type: 'event_ack', stored: true });
    const transcript = await socket.next(entryOf('events.new', { event_id: pushed['event_id'] }), 'the transcript');
    expect(transcript['data']).toMatchObject({ type: 'transcript_chunk', payload: { text: 'a transcript' } });

    // A retried client_event_id is acknowledged as a duplicate and broadcast once.
    const first = await sender.request({
      type: 'send_event',
      event: { space_id: home.space_id, type: 'note', payload: { n: 1 }, client_event_id: 'once' },
    });
    const retry = await sender.request({
      type: 'send_event',
      event: { space_id: home.space_id, type: 'note', payload: { n: 1 }, client_event_id: 'once' },
    });
    expect(retry).toMatchObject({ type: 'event_ack', event_id: first['event_id'], duplicate: true });
    const marker = await postEvent(home.device_token, home.space_id);
    await socket.next(entryOf('events.new', { event_id: marker }), 'the marker event');
    expect(socket.entries().filter((e) => e.data['event_id'] === first['event_id'])).toHaveLength(1);
    expect(socket.entries().every((e) => e.topic === 'events.new')).toBe(true);
    expectIncreasingSeqs(socket);
  });

  it('actions.updated: a planner proposal, then approve_action and reject_action over the socket', async () => {
    const home = await hub.bootstrap('Steward', 'home');
    const { socket } = await subscriber(home.user_token, home.agent_id, { topics: ['actions.updated'] });

    await postEvent(home.device_token, home.space_id, 'transcript_chunk', { text: 'tell Sam the package arrived' });
    const proposed = await socket.next(entryOf('actions.updated', { status: 'proposed' }), 'the proposal');
    expect(proposed).toMatchObject({
      agent_id: home.agent_id,
      space_id: home.space_id,
      data: { kind: 'send_message', status: 'proposed', payload: { to: 'Sam', text: 'the package arrived' } },
    });
    const actionId = proposed['data']['action_id'] as string;

    const approved = await socket.request({ type: 'approve_action', action_id: actionId });
    expect(approved).toMatchObject({ type: 'action', action: { action_id: actionId, status: 'approved' } });
    await socket.next(entryOf('actions.updated', { action_id: actionId, status: 'approved' }), 'the approval');
    // The tool runner takes it from there; each step is broadcast.
    await socket.next(entryOf('actions.updated', { action_id: actionId, status: 'executed' }), 'the execution');

    await postEvent(home.device_token, home.space_id, 'transcript_chunk', { text: 'tell Ada the door is open' });
    const secondProposal = await socket.next(
      (m) => entryOf('actions.updated', { status: 'proposed' })(m) && m['data']['action_id'] !== actionId,
      'the second proposal',
    );
    const secondId = secondProposal['data']['action_id'] as string;
    const rejected = await socket.request({ type: 'reject_action', action_id: secondId, reason: 'not now' });
    expect(rejected).toMatchObject({ type: 'action', action: { action_id: secondId, status: 'rejected' } });
    await socket.next(entryOf('actions.updated', { action_id: secondId, status: 'rejected' }), 'the rejection');

    const statuses = (id: string): string[] =>
      socket
        .entries('actions.updated')
        .filter((e) => e.data['action_id'] === id)
        .map((e) => e.data['status'] as string);
    expect(statuses(actionId)).toEqual(['proposed', 'approved', 'executing', 'executed']);
    expect(statuses(secondId)).toEqual(['proposed', 'rejected']);
    expectIncreasingSeqs(socket);
  });

  it("memories.new: the planner's write-back of a transcript", async () => {
    const home = await hub.bootstrap('Scribe', 'home');
    const { socket } = await subscriber(home.user_token, home.agent_id, { topics: ['memories.new'] });
    const eventId = await postEvent(home.device_token, home.space_id, 'transcript_chunk', {
      text: 'the boiler was serviced today',
    });
    const memory = await socket.next(entryOf('memories.new', { source_event_id: eventId }), 'the memory');
    expect(memory).toMatchObject({
      agent_id: home.agent_id,
      topic: 'memories.new',
      data: { tier: 'episodic', content: 'the boiler was serviced today', source_event_id: eventId },
    });
    expect(JSON.stringify(memory)).not.toContain('embedding');
  });

  it('presence.updated: a device heartbeat that changes its presence, not every heartbeat', async () => {
    const home = await hub.bootstrap('Watcher', 'home');
    const { socket } = await subscriber(home.user_token, home.agent_id, { topics: ['presence.updated'] });
    const satellite = await device(home, ['presence:write', 'events:write']);
    const mine = (m: Reply): boolean =>
      m.type === 'stream' &&
      m['topic'] === 'presence.updated' &&
      m['data']['subject_id'] === satellite.id &&
      m['space_id'] === home.space_id;

    await heartbeat(satellite.token, home.space_id, 'online');
    await socket.nextMany(mine, 1, 'online');
    await heartbeat(satellite.token, home.space_id, 'online');
    await heartbeat(satellite.token, home.space_id, 'online');
    // The socket's heartbeat verb moves it the same way.
    const live = await open(satellite.token);
    expect(await live.request({ type: 'heartbeat', space_id: home.space_id, status: 'away' })).toMatchObject({
      type: 'heartbeat_ok',
    });
    await socket.nextMany(mine, 2, 'away');
    await heartbeat(satellite.token, home.space_id, 'away');
    await heartbeat(satellite.token, home.space_id, 'online');
    const seen = await socket.nextMany(mine, 3, 'online again');
    expect(seen.map((m) => m['data'])).toEqual([
      expect.objectContaining({ subject_type: 'device', status: 'online', space_id: home.space_id }),
      expect.objectContaining({ subject_type: 'device', status: 'away' }),
      expect.objectContaining({ subject_type: 'device', status: 'online' }),
    ]);
    // The repeated heartbeats after each change were not broadcast: the third one came right after `away`.
    expect(socket.received.filter(mine)).toHaveLength(3);
  });

  it('a space filter hears only that space; a topic filter only those topics', async () => {
    const home = await hub.bootstrap('Sorter', 'home');
    const other = await hub.call('POST', `/v1/agents/${home.agent_id}/spaces`, home.user_token, { name: 'garage' });
    expect(other.status).toBe(201);
    const garage = other.json.space_id as string;
    const satellite = await device(home, ['presence:write', 'events:write']);

    const inGarage = await subscriber(home.user_token, home.agent_id, { space_id: garage });
    expect(inGarage.subscribed).toMatchObject({ space_id: garage });
    const presenceOnly = await subscriber(home.user_token, home.agent_id, { topics: ['presence.updated'] });

    const homeEvent = await postEvent(home.device_token, home.space_id);
    const garageEvent = await postEvent(home.device_token, garage);
    await heartbeat(satellite.token, home.space_id, 'online');
    await heartbeat(satellite.token, garage, 'online');

    await inGarage.socket.next(entryOf('events.new', { event_id: garageEvent }), 'the garage event');
    await inGarage.socket.next(
      (m) => m['topic'] === 'presence.updated' && m['data']['subject_id'] === satellite.id,
      'presence in the garage',
    );
    await presenceOnly.socket.next(
      (m) => m['topic'] === 'presence.updated' && m['space_id'] === garage,
      'the last presence change',
    );

    expect(inGarage.socket.entries().every((e) => e.space_id === garage)).toBe(true);
    expect(inGarage.socket.entries().some((e) => e.data['event_id'] === homeEvent)).toBe(false);
    expect(presenceOnly.socket.entries().every((e) => e.topic === 'presence.updated')).toBe(true);
    expect(presenceOnly.socket.entries().filter((e) => e.data['subject_id'] === satellite.id)).toHaveLength(2);
  });

  it('commands.updated: each change of a device command, with the command as REST shows it', async () => {
    const home = await hub.bootstrap('Commander', 'home');
    const { socket } = await subscriber(home.user_token, home.agent_id, { topics: ['commands.updated'] });
    const satellite = await open(home.device_token);

    const created = await hub.call('POST', `/v1/devices/${home.device_id}/commands`, home.user_token, { kind: 'ping' });
    expect(created.status).toBe(201);
    const commandId = created.json.command_id as string;
    const command = await satellite.next((m) => m.type === 'cmd.ping', 'the command');
    expect(
      await satellite.request({ type: 'cmd.result', command_id: command['command_id'], ok: true, result: {} }),
    ).toMatchObject({ type: 'cmd.result_ok', status: 'succeeded' });

    for (const status of ['queued', 'sent', 'succeeded']) {
      await socket.next(entryOf('commands.updated', { command_id: commandId, status }), status);
    }
    const done = socket.entries().find((e) => e.data['status'] === 'succeeded');
    expect(done).toMatchObject({
      agent_id: home.agent_id,
      space_id: null,
      data: { command_id: commandId, device_id: home.device_id, kind: 'ping', result: {} },
    });
    expectIncreasingSeqs(socket);
  });

  it('never sends a subscriber a topic it lacks the scope for (its default topics are the ones it may read)', async () => {
    const home = await hub.bootstrap('Keeper', 'home');
    const eventsReader = await device(home, ['events:read', 'events:write']);
    const satellite = await device(home, ['presence:write']);
    const guestHome = await hub.bootstrap('Visitor', 'elsewhere');
    expect(
      (
        await hub.call('POST', `/v1/agents/${home.agent_id}/members`, home.user_token, {
          user_id: guestHome.user_id,
          role: 'guest',
        })
      ).status,
    ).toBe(201);

    const everything = await subscriber(home.user_token, home.agent_id);
    expect([...everything.subscribed['topics']].sort()).toEqual([...STREAM_TOPICS].sort());
    const narrow = await subscriber(eventsReader.token, home.agent_id);
    expect(narrow.subscribed['topics']).toEqual(['events.new']);
    const guest = await subscriber(guestHome.user_token, home.agent_id);
    expect(guest.subscribed['topics']).toEqual(['presence.updated']);

    // Asking outright for a topic it may not read is refused like the REST read.
    const refused = await open(eventsReader.token);
    expect(
      await refused.request({ type: 'subscribe', agent_id: home.agent_id, topics: ['actions.updated'] }),
    ).toMatchObject({ type: 'error', error: { code: 'forbidden' } });

    const transcript = await postEvent(home.device_token, home.space_id, 'transcript_chunk', {
      text: 'tell Sam the gate is locked',
    });
    await heartbeat(satellite.token, home.space_id, 'online');
    // A command for a device (queued: nobody holds its connection), for commands.updated.
    const command = await hub.call('POST', `/v1/devices/${satellite.id}/commands`, home.user_token, { kind: 'ping' });
    expect(command.status).toBe(201);
    for (const topic of STREAM_TOPICS) {
      await everything.socket.next((m) => m['topic'] === topic, topic);
    }
    await everything.socket.next(entryOf('memories.new', { source_event_id: transcript }), 'the memory');
    await everything.socket.next(entryOf('actions.updated', { status: 'proposed' }), 'the proposal');

    // Markers committed after everything above: once each arrives, anything earlier has been sent.
    const marker = await postEvent(home.device_token, home.space_id);
    await heartbeat(satellite.token, home.space_id, 'away');
    await narrow.socket.next(entryOf('events.new', { event_id: marker }), 'the marker event');
    await guest.socket.next(entryOf('presence.updated', { status: 'away' }), 'the marker presence');

    expect(new Set(narrow.socket.entries().map((e) => e.topic))).toEqual(new Set(['events.new']));
    expect(new Set(guest.socket.entries().map((e) => e.topic))).toEqual(new Set(['presence.updated']));
  });
});
