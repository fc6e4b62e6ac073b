import { sql } from 'kysely';
import { ErrorCode } from '@marvain/contracts';
import { testDatabaseKind } from '@marvain/db/testing';
import type { BootstrapResult } from '@marvain/identity';
import { LocalWebSocketServer } from '@marvain/realtime';
import { AgentStream } from '@marvain/streams';
import { HubSocket, type Reply } from './testing/hub-socket';
import { openHubTestServer, type HubTestServer } from './testing/hub-test-server';
import { SseClient, type SseEvent } from './testing/sse-client';

// Opening the hub on a fresh database takes seconds on a busy machine.
jest.setTimeout(120_000);

const RETENTION_MS = 7 * 24 * 3600 * 1000;

/*
 * Resuming an agent's stream: a client that drops mid-stream and comes back with `from_seq`
 * (WebSocket) or `Last-Event-ID` / `from_seq` (SSE) gets exactly what it missed, in order, once;
 * a resume point retention already deleted is refused naming the oldest seq still held.
 */
describe(`resuming an agent's stream (${testDatabaseKind()})`, () => {
  let hub: HubTestServer;
  const sockets: HubSocket[] = [];
  const streams: SseClient[] = [];

  beforeAll(async () => {
    hub = await openHubTestServer({
      beforeListen: (app) => app.get(LocalWebSocketServer).attach(app.getHttpServer()),
    });
  });
  afterEach(async () => {
    streams.splice(0).forEach((s) => s.close());
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

  const sse = async (url: string, token: string, headers: Record<string, string> = {}): Promise<SseClient> => {
    const opened = await SseClient.open(hub.base, url, token, headers);
    if (!opened.client) {
      throw new Error(`${url} answered ${opened.status}: ${JSON.stringify(opened.json)}`);
    }
    streams.push(opened.client);
    return opened.client;
  };

  /** Posts `count` events one after another (so their order is their commit order); returns their ids. */
  const postEvents = async (home: BootstrapResult, count: number, label: string): Promise<string[]> => {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const posted = await hub.call('POST', '/v1/events', home.device_token, {
        space_id: home.space_id,
        type: 'note',
        payload: { text: `${label} ${i}` },
      });
      expect(posted.status).toBe(202);
      ids.push(posted.json.event_id as string);
    }
    return ids;
  };

  const isEvent = (m: Reply): boolean => m.type === 'stream' && m['topic'] === 'events.new';
  const eventIds = (socket: HubSocket): string[] =>
    socket.entries('events.new').map((e) => e.data['event_id'] as string);
  /** The event id an SSE event carries (its data is the stream entry). */
  const sseEventId = (event: SseEvent): string => event.json?.data?.event_id as string;
  const isSseEvent = (event: SseEvent): boolean => event.json?.topic === 'events.new';

  it('over the WebSocket: a client dropped mid-stream resumes with from_seq and gets exactly what it missed, in order, once', async () => {
    const home = await hub.bootstrap('Resumer', 'home');
    const first = await open(home.user_token);
    expect(await first.request({ type: 'subscribe', agent_id: home.agent_id, topics: ['events.new'] })).toMatchObject({
      type: 'subscribed',
    });

    const posted = await postEvents(home, 10, 'before');
    await first.nextMany(isEvent, 10);
    // Events keep coming; the client vanishes in the middle of them.
    const during = postEvents(home, 20, 'during');
    await first.nextMany(isEvent, 13);
    first.terminate();
    posted.push(...(await during));
    const heard = eventIds(first);
    const lastSeq = first.entries('events.new').at(-1)!.seq;
    expect(heard).toEqual(posted.slice(0, heard.length));
    expect(heard.length).toBeLessThan(posted.length);

    const again = await open(home.user_token);
    again.send({
      type: 'subscribe',
      id: 'resume',
      agent_id: home.agent_id,
      topics: ['events.new'],
      from_seq: lastSeq + 1,
    });
    // More arrive while the replay is under way: the replay and the live tail must meet without a gap or a repeat.
    posted.push(...(await postEvents(home, 5, 'after')));
    expect(await again.next((m) => m.id === 'resume')).toMatchObject({ type: 'subscribed' });
    await again.nextMany(isEvent, posted.length - heard.length);
    const marker = (await postEvents(home, 1, 'marker'))[0] as string;
    posted.push(marker);
    await again.next((m) => isEvent(m) && m['data']['event_id'] === marker, 'the marker');

    expect([...heard, ...eventIds(again)]).toEqual(posted);
    const seqs = [...first.entries('events.new'), ...again.entries('events.new')].map((e) => e.seq);
    expect(seqs).toEqual([...new Set(seqs)].sort((a, b) => a - b));
  });

  it('over SSE: Last-Event-ID and from_seq each resume exactly after the last event seen, then tail', async () => {
    const home = await hub.bootstrap('Listener', 'home');
    const url = `/v1/agents/${home.agent_id}/stream?topics=events.new`;
    const first = await sse(url, home.user_token);
    expect(first.contentType).toMatch(/^text\/event-stream/);

    const posted = await postEvents(home, 5, 'before');
    const seen = await first.nextMany(isSseEvent, 5);
    expect(seen.map(sseEventId)).toEqual(posted);
    // Each event's id is its seq, as Last-Event-ID hands it back.
    expect(seen.map((e) => e.id)).toEqual(seen.map((e) => String(e.json.seq)));
    first.close();

    const missed = await postEvents(home, 5, 'missed');
    const lastId = seen.at(-1)!.id as string;

    const byHeader = await sse(url, home.user_token, { 'last-event-id': lastId });
    const byQuery = await sse(`${url}&from_seq=${Number(lastId) + 1}`, home.user_token);
    await byHeader.nextMany(isSseEvent, 5);
    await byQuery.nextMany(isSseEvent, 5);
    const live = await postEvents(home, 2, 'live');
    for (const resumed of [byHeader, byQuery]) {
      const events = await resumed.nextMany(isSseEvent, 7);
      expect(events.map(sseEventId)).toEqual([...missed, ...live]);
      const ids = events.map((e) => Number(e.id));
      expect(ids).toEqual([...new Set(ids)].sort((a, b) => a - b));
      expect(ids[0]).toBeGreaterThan(Number(lastId));
    }
    // The last marker: nothing else (no repeat) arrived before it.
    const marker = await postEvents(home, 1, 'marker');
    for (const resumed of [byHeader, byQuery]) {
      const events = await resumed.nextMany(isSseEvent, 8);
      expect(events.map(sseEventId)).toEqual([...missed, ...live, ...marker]);
    }
  });

  it('answers a resume point older than retention with stream_expired naming the oldest seq (WebSocket, and 410 over SSE)', async () => {
    const home = await hub.bootstrap('Forgetful', 'home');
    await postEvents(home, 6, 'old');
    const rows = await sql<{ seq: string | number; topic: string }>`
      SELECT seq, topic FROM agent_stream WHERE agent_id = ${home.agent_id}::uuid ORDER BY seq`.execute(hub.kysely);
    const seqs = rows.rows.map((r) => Number(r.seq));
    expect(seqs.length).toBeGreaterThanOrEqual(6);
    // The first three entries are older than the retention window; the retention sweep deletes them.
    const expiredUpTo = seqs[2] as number;
    await sql`
      UPDATE agent_stream SET created_at = now() - interval '8 days'
      WHERE agent_id = ${home.agent_id}::uuid AND seq <= ${expiredUpTo}`.execute(hub.kysely);
    await hub.app.get(AgentStream).prune(new Date(Date.now() - RETENTION_MS));
    const oldest = expiredUpTo + 1;
    const keptEvents = rows.rows
      .filter((r) => Number(r.seq) >= oldest && r.topic === 'events.new')
      .map((r) => Number(r.seq));

    const socket = await open(home.user_token);
    expect(
      await socket.request({ type: 'subscribe', agent_id: home.agent_id, topics: ['events.new'], from_seq: 1 }),
    ).toMatchObject({ type: 'error', error: { code: ErrorCode.StreamExpired, details: { oldest_seq: oldest } } });
    expect(
      await socket.request({
        type: 'subscribe',
        agent_id: home.agent_id,
        topics: ['events.new'],
        from_seq: expiredUpTo,
      }),
    ).toMatchObject({ type: 'error', error: { code: ErrorCode.StreamExpired, details: { oldest_seq: oldest } } });

    const url = `/v1/agents/${home.agent_id}/stream?topics=events.new`;
    for (const [label, opened] of [
      ['from_seq', await SseClient.open(hub.base, `${url}&from_seq=1`, home.user_token)],
      [
        'Last-Event-ID',
        await SseClient.open(hub.base, url, home.user_token, { 'last-event-id': String(expiredUpTo - 1) }),
      ],
    ] as const) {
      expect({ label, status: opened.status, error: opened.json?.error }).toEqual({
        label,
        status: 410,
        error: { code: ErrorCode.StreamExpired, message: expect.any(String), details: { oldest_seq: oldest } },
      });
    }

    // From the oldest seq still held, the rest replays.
    const resumed = await open(home.user_token);
    expect(
      await resumed.request({ type: 'subscribe', agent_id: home.agent_id, topics: ['events.new'], from_seq: oldest }),
    ).toMatchObject({ type: 'subscribed' });
    await resumed.nextMany(isEvent, keptEvents.length);
    expect(resumed.entries('events.new').map((e) => e.seq)).toEqual(keptEvents);
    const stream = await sse(`${url}&from_seq=${oldest}`, home.user_token);
    const replayed = await stream.nextMany(isSseEvent, keptEvents.length);
    expect(replayed.map((e) => Number(e.id))).toEqual(keptEvents);
  });
});
