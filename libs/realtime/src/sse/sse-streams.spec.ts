import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal, StreamEntry, StreamTopic } from '@marvain/contracts';
import type { PrincipalResolver, PrincipalRevocations } from '@marvain/identity';
import { LoggerFactory, type HubConfig } from '@marvain/platform';
import type { AgentStream } from '@marvain/streams';
import type { LocalDelivery } from '../delivery/local-delivery';
import { SseStreams, sseEvent } from './sse-streams';

const AGENT = '00000000-0000-4000-8000-00000000000a';
const READER: Principal = { type: 'user', id: 'u1', agents: [{ agent_id: AGENT, scopes: ['events:read'] }] };

function entry(seq: number, topic: StreamTopic = 'events.new'): StreamEntry {
  return { seq, agent_id: AGENT, topic, space_id: null, data: { seq }, at: '2026-12-01T00:00:00.000Z' };
}

const TABLE = [entry(1), entry(2), entry(3, 'actions.updated'), entry(4)];

/** The AWS runtime's answer: API Gateway cannot hold a response, so the route answers and ends. */
describe('SseStreams on the AWS runtime', () => {
  const streams = new SseStreams(
    { runtime: 'aws' } as HubConfig,
    {} as LocalDelivery,
    {
      read: (_agentId: string, fromSeq: number) => Promise.resolve(TABLE.filter((e) => e.seq >= fromSeq)),
    } as unknown as AgentStream,
    {} as PrincipalResolver,
    { subscribe: () => () => undefined } as unknown as PrincipalRevocations,
    new LoggerFactory(),
  );
  afterAll(() => streams.onModuleDestroy());

  async function answer(fromSeq: number, lastSeq = 4): Promise<{ body: string; headers: Record<string, string> }> {
    const headers: Record<string, string> = {};
    let body = '';
    const reply = {
      header(name: string, value: string) {
        headers[name] = value;
        return reply;
      },
      send(text: string) {
        body = text;
        return reply;
      },
    };
    await streams.serve(
      READER,
      'token',
      { subscription: { agent_id: AGENT, space_id: null, topics: ['events.new'] }, lastSeq, fromSeq },
      {} as FastifyRequest,
      reply as unknown as FastifyReply,
    );
    return { body, headers };
  }

  it('answers what is available from the resume point, then retry: and the last seq covered as id:', async () => {
    const { body, headers } = await answer(2);
    expect(headers['content-type']).toMatch(/^text\/event-stream/);
    // Seq 3 is a topic the subscription does not take: skipped, but covered by the final id.
    expect(body).toBe(
      `${sseEvent({ type: 'stream', ...entry(2) })}${sseEvent({ type: 'stream', ...entry(4) })}retry: 3000\nid: 4\n\n`,
    );
  });

  it('without a resume point answers only where to resume from (the head)', async () => {
    expect((await answer(5)).body).toBe('retry: 3000\nid: 4\n\n');
  });
});

describe('sseEvent', () => {
  it('writes an entry as id, event and data, and a resync notice as its own event', () => {
    expect(sseEvent({ type: 'stream', ...entry(7) })).toBe(
      `id: 7\nevent: events.new\ndata: ${JSON.stringify(entry(7))}\n\n`,
    );
    expect(sseEvent({ type: 'resync_required', agent_id: AGENT, last_seq: 6 })).toBe(
      `event: resync_required\ndata: {"agent_id":"${AGENT}","last_seq":6}\n\n`,
    );
  });
});
