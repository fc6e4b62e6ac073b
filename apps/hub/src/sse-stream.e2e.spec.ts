import { sql } from 'kysely';
import { randomUUID } from 'node:crypto';
import { asUuid, TransactionRunner } from '@marvain/db';
import { testDatabaseKind } from '@marvain/db/testing';
import type { BootstrapResult } from '@marvain/identity';
import { SseStreams } from '@marvain/realtime';
import { AgentStream } from '@marvain/streams';
import { openHubTestServer, type HubTestServer } from './testing/hub-test-server';

jest.setTimeout(60_000);

/** An open SSE response, read as it arrives. */
interface OpenStream {
  status: number;
  contentType: string | null;
  /** Everything received so far. */
  text(): string;
  /** Resolves once the received text satisfies `test` (rejects if the stream ends first). */
  until(test: (text: string) => boolean): Promise<string>;
  /** Resolves with the whole text once the hub ends the stream. */
  ended(): Promise<string>;
  close(): void;
}

interface SseEvent {
  id?: string;
  event?: string;
  data?: string;
}

function parseEvents(text: string): SseEvent[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '' && !block.startsWith(':'))
    .map((block) => {
      const event: SseEvent = {};
      for (const line of block.split('\n')) {
        const at = line.indexOf(': ');
        const [field, value] = at >= 0 ? [line.slice(0, at), line.slice(at + 2)] : [line, ''];
        if (field === 'id' || field === 'event' || field === 'data') {
          event[field] = value;
        }
      }
      return event;
    })
    .filter((event) => event.data !== undefined);
}

describe(`the agent stream over SSE (${testDatabaseKind()})`, () => {
  let hub: HubTestServer;
  let home: BootstrapResult;
  let other: BootstrapResult;
  const open: OpenStream[] = [];

  beforeAll(async () => {
    hub = await openHubTestServer();
    hub.app.get(SseStreams).keepAliveMs = 200;
    home = await hub.bootstrap();
    other = await hub.bootstrap('Elsewhere', 'away');
  });
  afterEach(() => open.splice(0).forEach((stream) => stream.close()));
  afterAll(() => hub.close());

  async function stream(path: string, token: string, headers: Record<string, string> = {}): Promise<OpenStream> {
    const abort = new AbortController();
    const response = await fetch(`${hub.base}${path}`, {
      headers: { authorization: `Bearer ${token}`, ...headers },
      signal: abort.signal,
    });
    let received = '';
    let done = false;
    const waiters = new Set<() => void>();
    const wake = (): void => waiters.forEach((waiter) => waiter());
    void (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          received += decoder.decode(chunk, { stream: true });
          wake();
        }
      } catch {
        // aborted by the spec
      }
      done = true;
      wake();
    })();
    const wait = (ready: () => boolean, what: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if (ready()) {
            waiters.delete(check);
            resolve(received);
          } else if (done) {
            waiters.delete(check);
            reject(new Error(`the stream ended before ${what}; received: ${received}`));
          }
        };
        waiters.add(check);
        check();
      });
    const opened: OpenStream = {
      status: response.status,
      contentType: response.headers.get('content-type'),
      text: () => received,
      until: (test) => wait(() => test(received), 'the expected text'),
      ended: () => wait(() => done, 'its end'),
      close: () => abort.abort(),
    };
    open.push(opened);
    return opened;
  }

  async function appendEvents(agentId: string, spaceId: string, count: number): Promise<number[]> {
    const agentStream = hub.app.get(AgentStream);
    return hub.app.get(TransactionRunner).run(async (tx) => {
      const seqs: number[] = [];
      for (let i = 0; i < count; i += 1) {
        const entry = await agentStream.append(tx, {
          agent_id: agentId,
          topic: 'events.new',
          space_id: spaceId,
          data: { i },
        });
        seqs.push(entry.seq);
      }
      return seqs;
    });
  }

  const hasId = (seq: number) => (text: string) => parseEvents(text).some((event) => event.id === String(seq));

  it('streams entries from from_seq as id/event/data, then live ones, with keep-alive comments', async () => {
    const [first, second] = await appendEvents(home.agent_id, home.space_id, 2);
    const sse = await stream(`/v1/agents/${home.agent_id}/stream?topics=events.new&from_seq=${first}`, home.user_token);
    expect(sse.status).toBe(200);
    expect(sse.contentType).toMatch(/^text\/event-stream/);
    const [live] = await appendEvents(home.agent_id, home.space_id, 1);
    const text = await sse.until(hasId(live as number));
    const events = parseEvents(text);
    expect(events.map((event) => Number(event.id))).toEqual([first, second, live]);
    expect(events.every((event) => event.event === 'events.new')).toBe(true);
    expect(JSON.parse(events[0]?.data ?? '{}')).toEqual({
      seq: first,
      agent_id: home.agent_id,
      topic: 'events.new',
      space_id: home.space_id,
      data: { i: 0 },
      at: expect.any(String),
    });
    await sse.until((received) => received.includes(': keep-alive\n\n'));
  });

  it('resumes after Last-Event-ID; from_seq wins when both are sent', async () => {
    const seqs = await appendEvents(home.agent_id, home.space_id, 3);
    const [a, b, c] = seqs as [number, number, number];
    const resumed = await stream(`/v1/agents/${home.agent_id}/stream?topics=events.new`, home.user_token, {
      'last-event-id': String(a),
    });
    expect(parseEvents(await resumed.until(hasId(c))).map((event) => Number(event.id))).toEqual([b, c]);

    const both = await stream(`/v1/agents/${home.agent_id}/stream?topics=events.new&from_seq=${a}`, home.user_token, {
      'last-event-id': String(b),
    });
    expect(parseEvents(await both.until(hasId(c))).map((event) => Number(event.id))).toEqual([a, b, c]);
  });

  it('refuses before streaming, as JSON errors: another agent, unknown topics, missing scope, bad resume points', async () => {
    const call = (path: string, token: string | null, headers: Record<string, string> = {}) =>
      hub.call('GET', path, token, undefined, headers);
    const foreign = await call(`/v1/agents/${other.agent_id}/stream`, home.user_token);
    const missing = await call(`/v1/agents/${randomUUID()}/stream`, home.user_token);
    expect([foreign.status, missing.status]).toEqual([404, 404]);
    expect(foreign.json.error.code).toBe('not_found');

    expect((await call(`/v1/agents/${home.agent_id}/stream`, null)).status).toBe(401);
    const unknown = await call(`/v1/agents/${home.agent_id}/stream?topics=events.new,gossip`, home.user_token);
    expect(unknown.status).toBe(400);
    expect(unknown.json.error.code).toBe('validation_failed');

    const device = await hub.call('POST', `/v1/agents/${home.agent_id}/devices`, home.user_token, {
      name: 'listener',
      scopes: ['events:read'],
    });
    const refused = await call(`/v1/agents/${home.agent_id}/stream?topics=memories.new`, device.json.token);
    expect(refused.status).toBe(403);
    expect(refused.json.error).toMatchObject({ code: 'forbidden', details: { topics: ['memories.new'] } });

    const badId = await call(`/v1/agents/${home.agent_id}/stream`, home.user_token, { 'last-event-id': 'soon' });
    expect(badId.status).toBe(400);

    await appendEvents(other.agent_id, other.space_id, 3);
    const oldest = await hub.app.get(AgentStream).head(other.agent_id);
    await hub.kysely
      .deleteFrom('agent_stream')
      .where('agent_id', '=', asUuid(other.agent_id))
      .where('seq', '<', sql<string>`${oldest}::bigint`)
      .execute();
    const expired = await call(`/v1/agents/${other.agent_id}/stream?from_seq=1`, other.user_token);
    expect(expired.status).toBe(410);
    expect(expired.json.error).toMatchObject({ code: 'stream_expired', details: { oldest_seq: oldest } });
  });

  it('ends the stream when the credential is revoked', async () => {
    const device = await hub.call('POST', `/v1/agents/${home.agent_id}/devices`, home.user_token, {
      name: 'doomed',
      scopes: ['events:read'],
    });
    const sse = await stream(`/v1/agents/${home.agent_id}/stream`, device.json.token);
    expect(sse.status).toBe(200);
    await sse.until((text) => text.startsWith('retry:'));
    const revoked = await hub.call('POST', `/v1/devices/${device.json.device.device_id}/revoke`, home.user_token);
    expect(revoked.status).toBe(200);
    await sse.ended();
    expect(hub.app.get(SseStreams).size).toBe(0);
  });
});
