import type { OperatorConfig } from '@marvain/platform';
import { WsCloseCode } from '@marvain/contracts';
import { HubSocket, type Reply } from './testing/hub-socket';
import { startHubProcess, type HubProcess } from './testing/hub-process';
import { encodeFrame, jsonFrame, RawWebSocket } from './testing/raw-websocket';

/** Each event's payload: big, so the stream outgrows the kernel's socket buffers in a few dozen events. */
const PAYLOAD_CHARS = 200 * 1024;
/** Posted this many at a time; the reading client must have all of a batch before the next one. */
const BATCH = 10;
/** Batches per phase: about 16 MiB of stream each. */
const BATCHES = 8;

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
    // The hub's own embedded database, whatever DATABASE_URL says: a first start on a database
    // that already has agents (the server's shared one) saves no credentials.
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

  /** `promise`, or a failure naming `what` and what the slow socket has received, after `ms`. */
  const within = <T>(promise: Promise<T>, what: string, seen: () => unknown, ms = 60_000): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}: ${JSON.stringify(seen())}`)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  };
  const sockets: Array<RawWebSocket | HubSocket> = [];
  afterAll(() => sockets.forEach((s) => (s instanceof HubSocket ? s.terminate() : s.destroy())));

  const isEvent = (m: Message): boolean => m['type'] === 'stream' && m['topic'] === 'events.new';
  const idOf = (m: Message): string => m['data']['event_id'] as string;

  it('cuts off the subscriber that does not read instead of queueing the stream for it, keeps the one that does up to date, and lets the slow one resume', async () => {
    const reader = await HubSocket.open(hub.url, creds.user_token);
    sockets.push(reader);
    expect(await reader.request({ type: 'subscribe', agent_id: creds.agent_id, topics: ['events.new'] })).toMatchObject(
      { type: 'subscribed' },
    );

    const posted: string[] = [];
    const phase = async (batches: number): Promise<void> => {
      for (let i = 0; i < batches; i++) {
        posted.push(...(await postBatch(posted.length)));
        // The reader is not held up by one that does not read: it has the whole batch.
        await reader.nextMany(isEvent, posted.length, `${posted.length} events at the reader`);
      }
    };
    await phase(BATCHES);
    const warmed = posted.length;

    const slow = await RawWebSocket.open(hub.url);
    sockets.push(slow);
    /** What the slow socket received, in order: runs of stream seqs, and every other message. */
    const seen = (): string => {
      const parts: string[] = [];
      let run: [number, number] | null = null;
      for (const m of slow.messages() as Message[]) {
        if (isEvent(m)) {
          const seq = m['seq'] as number;
          run = run && run[1] === seq - 1 ? [run[0], seq] : (run && parts.push(`${run[0]}..${run[1]}`), [seq, seq]);
          continue;
        }
        if (run) {
          parts.push(`${run[0]}..${run[1]}`);
          run = null;
        }
        parts.push(`${m['type'] as string}${m['last_seq'] === undefined ? '' : `(${String(m['last_seq'])})`}`);
      }
      if (run) {
        parts.push(`${run[0]}..${run[1]}`);
      }
      return parts.join(' ');
    };
    slow.send(jsonFrame({ type: 'hello', id: 'h', token: creds.user_token }));
    await slow.message((m: Message) => m['id'] === 'h');
    slow.send(jsonFrame({ type: 'subscribe', id: 's', agent_id: creds.agent_id, topics: ['events.new'] }));
    const subscribed = await slow.message<Message>((m) => m['id'] === 's');
    expect(subscribed).toMatchObject({ type: 'subscribed' });
    slow.stopReading();
    await phase(BATCHES);

    const heard = reader.received.filter(isEvent);
    expect(new Set(heard.map(idOf))).toEqual(new Set(posted));
    expect(heard).toHaveLength(posted.length);
    const readerSeqs = heard.map((m) => m['seq'] as number);
    expect(readerSeqs).toEqual([...readerSeqs].sort((a, b) => a - b));

    // Memory: the per-connection bound (a queue of at most 256 KiB, then resync) is proven exactly by
    // the delivery channel's spec. The hub's RSS is not asserted here: over 16 MiB of 200 KiB entries,
    // garbage collection alone moved its peak by tens of MiB between identical runs. What this
    // checks is the behaviour that keeps memory bounded: the slow one is cut off, below.

    // The slow one reads again: it was told to resync, or closed with 1013; either way it resumes.
    slow.socket.resume();
    const cutOff = await within(
      Promise.race([
        slow.message<Message>((m) => m['type'] === 'resync_required').then((m) => ({ resync: m })),
        slow.closed().then((c) => ({ closed: c })),
      ]),
      'resync_required or a close',
      seen,
    );
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
    const sinceSubscribe = posted.slice(warmed);
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
      await within(
        slow.message((m: Message) => m['id'] === 'again'),
        'the reply to subscribing again',
        seen,
      );
      await within(
        slow.message(
          () =>
            slow
              .messages()
              .slice(before)
              .filter((m) => isEvent(m as Message)).length >= missing,
        ),
        `the ${missing} entries it missed`,
        seen,
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
  }, 600_000);
});
