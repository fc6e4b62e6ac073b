import type { OperatorConfig } from '@marvain/platform';
import { WsCloseCode } from '@marvain/contracts';
import { HubSocket, type Reply } from './testing/hub-socket';
import { startHubProcess, type HubProcess } from './testing/hub-process';
import { encodeFrame, jsonFrame, RawWebSocket } from './testing/raw-websocket';

/** Each event's payload: big, so the stream outgrows the kernel's socket buffers in a few hundred events. */
const PAYLOAD_CHARS = 48 * 1024;
/** Events posted in total (about 38 MiB of stream for a client that reads none of it). */
const EVENTS = 800;
/** Posted this many at a time; the reading client must have all of a batch before the next one. */
const BATCH = 40;
/**
 * How far the hub's resident memory may rise over its size after warm-up while one subscriber
 * reads nothing (as websocket-memory.e2e.spec.ts): a hub that queued the stream for it would
 * rise by about as much as was posted.
 */
const RSS_BUDGET_BYTES = 48 * 1024 * 1024;
const MiB = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

type Message = Record<string, any>;

/*
 * A subscriber that stops reading while its agent's stream keeps flowing: it is told to resync
 * (`resync_required {last_seq}`) or closed with 1013, never lets the hub queue the stream for it,
 * and never holds up a subscriber that reads. Once it reads again it resumes from where it was
 * cut off and ends with every event, once.
 */
describe('a slow consumer of a real hub process', () => {
  let hub: HubProcess;
  let creds: OperatorConfig;

  beforeAll(async () => {
    hub = await startHubProcess();
    creds = await hub.credentials();
  }, 180_000);
  afterAll(async () => {
    await hub.stop();
  });

  const post = async (label: string): Promise<string> => {
    const response = await fetch(`${hub.url}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${creds.device_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        space_id: creds.space_id,
        type: 'note',
        payload: { label, text: 'x'.repeat(PAYLOAD_CHARS) },
      }),
    });
    const body = (await response.json()) as { event_id: string };
    expect(response.status).toBe(202);
    return body.event_id;
  };
  const postBatch = (from: number): Promise<string[]> =>
    Promise.all(Array.from({ length: BATCH }, (_, i) => post(`e${from + i}`)));

  const isEvent = (m: Message): boolean => m['type'] === 'stream' && m['topic'] === 'events.new';
  const idOf = (m: Message): string => m['data']['event_id'] as string;

  it('cuts off the subscriber that does not read, keeps the one that does up to date, stays within its memory bound, and lets the slow one resume', async () => {
    const reader = await HubSocket.open(hub.url, creds.user_token);
    expect(await reader.request({ type: 'subscribe', agent_id: creds.agent_id, topics: ['events.new'] })).toMatchObject(
      { type: 'subscribed' },
    );

    // Warm up what posting and delivering load (and the database's cache), so the baseline is a working hub.
    const posted: string[] = [];
    for (let i = 0; i < 4; i++) {
      posted.push(...(await postBatch(posted.length)));
    }
    await reader.nextMany(isEvent, posted.length, 'the warm-up events');

    const slow = await RawWebSocket.open(hub.url);
    slow.send(jsonFrame({ type: 'hello', id: 'h', token: creds.user_token }));
    await slow.message((m: Message) => m['id'] === 'h');
    slow.send(jsonFrame({ type: 'subscribe', id: 's', agent_id: creds.agent_id, topics: ['events.new'] }));
    const subscribed = await slow.message<Message>((m) => m['id'] === 's');
    expect(subscribed).toMatchObject({ type: 'subscribed' });
    slow.stopReading();

    const idle = hub.rssBytes();
    const samples: number[] = [];
    while (posted.length < EVENTS) {
      posted.push(...(await postBatch(posted.length)));
      // The reader is not held up by the one that does not read: it has the whole batch.
      await reader.nextMany(isEvent, posted.length, `${posted.length} events at the reader`);
      samples.push(hub.rssBytes());
    }
    const report = { idle: MiB(idle), peak: MiB(Math.max(...samples)), last: MiB(samples.at(-1) as number) };
    expect({ ...report, within: Math.max(...samples) - idle <= RSS_BUDGET_BYTES }).toEqual({ ...report, within: true });

    const heard = reader.received.filter(isEvent);
    expect(new Set(heard.map(idOf))).toEqual(new Set(posted));
    expect(heard).toHaveLength(posted.length);
    const readerSeqs = heard.map((m) => m['seq'] as number);
    expect(readerSeqs).toEqual([...readerSeqs].sort((a, b) => a - b));

    // The slow one reads again: it was told to resync, or closed with 1013; either way it resumes.
    slow.socket.resume();
    const cutOff = await Promise.race([
      slow.message<Message>((m) => m['type'] === 'resync_required').then((m) => ({ resync: m })),
      slow.closed().then((c) => ({ closed: c })),
    ]);
    const got = slow.messages().filter((m) => isEvent(m as Message)) as Message[];
    let resumeFrom: number;
    let resumed: HubSocket | RawWebSocket = slow;
    if ('resync' in cutOff) {
      expect(cutOff.resync).toEqual({
        type: 'resync_required',
        agent_id: creds.agent_id,
        last_seq: expect.any(Number),
      });
      const lastSeq = cutOff.resync['last_seq'] as number;
      // Nothing after last_seq was sent, and what was sent ends at it.
      expect(got.every((m) => (m['seq'] as number) <= lastSeq)).toBe(true);
      resumeFrom = lastSeq + 1;
    } else {
      expect(cutOff.closed.code).toBe(WsCloseCode.TryAgainLater);
      resumeFrom = got.length > 0 ? (got.at(-1)!['seq'] as number) + 1 : (subscribed['last_seq'] as number) + 1;
      slow.destroy();
      resumed = await HubSocket.open(hub.url, creds.user_token);
    }
    // The warm-up events were sent before it subscribed; it is owed everything after.
    const sinceSubscribe = posted.slice(4 * BATCH);
    const missing = sinceSubscribe.length - got.length;
    expect(missing).toBeGreaterThan(0);
    let after: Message[];
    if (resumed instanceof HubSocket) {
      expect(
        await resumed.request({
          type: 'subscribe',
          agent_id: creds.agent_id,
          topics: ['events.new'],
          from_seq: resumeFrom,
        }),
      ).toMatchObject({ type: 'subscribed' });
      after = await resumed.nextMany(isEvent as (m: Reply) => boolean, missing, 'the rest of the stream', 60_000);
      await resumed.close();
    } else {
      const before = slow.messages().length;
      slow.send(
        jsonFrame({
          type: 'subscribe',
          id: 'again',
          agent_id: creds.agent_id,
          topics: ['events.new'],
          from_seq: resumeFrom,
        }),
      );
      await slow.message((m: Message) => m['id'] === 'again');
      await slow.message(
        () =>
          slow
            .messages()
            .slice(before)
            .filter((m) => isEvent(m as Message)).length >= missing,
      );
      after = slow
        .messages()
        .slice(before)
        .filter((m) => isEvent(m as Message)) as Message[];
      slow.send(encodeFrame({ opcode: 0x8, payload: Buffer.from([0x03, 0xe8]) }));
      await slow.closed();
      slow.destroy();
    }
    const all = [...got, ...after].map(idOf);
    expect(all.length).toBe(new Set(all).size);
    expect(new Set(all)).toEqual(new Set(sinceSubscribe));
    await reader.close();
    expect(hub.running()).toBe(true);
  }, 300_000);
});
