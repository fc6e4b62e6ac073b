import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal, StreamEntry } from '@marvain/contracts';
import { PrincipalResolver, PrincipalRevocations, revocationConcerns } from '@marvain/identity';
import { HubConfig, LoggerFactory, type HubLogger } from '@marvain/platform';
import { AgentStream } from '@marvain/streams';
import type { DeliveredMessage, DeliverySink } from '../delivery/delivery-channel';
import { CATCH_UP_PAGE } from '../delivery/delivery-channel';
import { LocalDelivery } from '../delivery/local-delivery';
import type { StreamGrant } from '../stream-access.service';
import { hears } from '../subscriptions';

/** How long an EventSource waits before reconnecting (the `retry:` field), in milliseconds. */
export const SSE_RETRY_MS = 3000;

/** One SSE event: `id` is the entry's seq, `event` its topic, `data` the StreamEntry as JSON. */
export function sseEvent(message: DeliveredMessage): string {
  if (message.type === 'resync_required') {
    return `event: resync_required\ndata: ${JSON.stringify({ agent_id: message.agent_id, last_seq: message.last_seq })}\n\n`;
  }
  const { type: _type, ...entry } = message;
  return `id: ${entry.seq}\nevent: ${entry.topic}\ndata: ${JSON.stringify(entry)}\n\n`;
}

/**
 * The SSE side of the streams. Locally a response is a delivery channel like a WebSocket's (the
 * same cursor, queue and bound: past it an `event: resync_required` and the end), with a
 * keep-alive comment every `keepAliveMs`, ended when the principal's credential or access goes.
 *
 * On the AWS runtime API Gateway cannot hold a response open, so a request is answered with what
 * is available (one page from the resume point) and ends with `retry:` and an `id:` line naming
 * the last seq covered: an EventSource reconnects after `retry` ms sending that id as
 * Last-Event-ID, which makes the stream a poll that loses nothing.
 */
@Injectable()
export class SseStreams implements OnModuleDestroy {
  /** Milliseconds between keep-alive comments (and re-checks of the credential); specs shorten it. */
  keepAliveMs = 15_000;
  private readonly logger: HubLogger;
  private readonly open = new Set<{ principal: Principal; end: () => void }>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly config: HubConfig,
    private readonly delivery: LocalDelivery,
    private readonly stream: AgentStream,
    private readonly resolver: PrincipalResolver,
    revocations: PrincipalRevocations,
    logs: LoggerFactory,
  ) {
    this.logger = logs.forContext('SSE');
    this.unsubscribe = revocations.subscribe((revocation) => {
      for (const stream of [...this.open]) {
        if (revocationConcerns(revocation, stream.principal)) {
          stream.end();
        }
      }
    });
  }

  onModuleDestroy(): void {
    this.unsubscribe();
    for (const stream of [...this.open]) {
      stream.end();
    }
  }

  /** How many streams are open (for tests and diagnostics). */
  get size(): number {
    return this.open.size;
  }

  async serve(
    principal: Principal,
    token: string,
    grant: StreamGrant,
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<void> {
    if (this.config.runtime === 'aws') {
      const body = await this.available(principal, grant);
      reply.header('content-type', 'text/event-stream; charset=utf-8').header('cache-control', 'no-cache').send(body);
      return;
    }
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      ...headersOf(reply),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    raw.write(`retry: ${SSE_RETRY_MS}\n\n`);

    let ended = false;
    const sink: DeliverySink = {
      encode: sseEvent,
      write: (text, written) => {
        if (ended) {
          return;
        }
        raw.write(text, () => {
          written();
          if (text.startsWith('event: resync_required')) {
            end(); // the client resumes from the seq it names
          }
        });
      },
      buffered: () => raw.writableLength,
    };
    const handle = this.delivery.open(() => principal, sink);
    const stream = { principal, end: () => end() };
    const keepAlive = setInterval(() => {
      raw.write(': keep-alive\n\n');
      void this.recheck(principal, token, end);
    }, this.keepAliveMs);
    keepAlive.unref();
    const end = (): void => {
      if (ended) {
        return;
      }
      ended = true;
      clearInterval(keepAlive);
      handle.close();
      this.open.delete(stream);
      raw.end();
    };
    this.open.add(stream);
    request.raw.on('close', end);
    raw.on('close', end);
    raw.on('error', (error) => this.logger.debug(`stream response: ${error.message}`));
    handle.subscribe(grant.subscription, grant.fromSeq);
  }

  /** A backstop to revocation notices (another process changed access): the credential still stands. */
  private async recheck(principal: Principal, token: string, end: () => void): Promise<void> {
    try {
      if ((await this.resolver.stillValid(principal, token)) !== 'valid') {
        end();
      }
    } catch (error) {
      this.logger.warn(`could not re-check a stream's credential: ${String(error)}`);
    }
  }

  /** The AWS answer: one page from the resume point, then `retry:` and the last seq covered as `id:`. */
  private async available(principal: Principal, grant: StreamGrant): Promise<string> {
    const agentId = grant.subscription.agent_id;
    const entries: StreamEntry[] =
      grant.fromSeq <= grant.lastSeq ? await this.stream.read(agentId, grant.fromSeq, {}, CATCH_UP_PAGE) : [];
    const heard = entries.filter((entry) => hears(principal, grant.subscription, entry));
    const covered = entries.at(-1)?.seq ?? grant.fromSeq - 1;
    return `${heard.map((entry) => sseEvent({ type: 'stream', ...entry })).join('')}retry: ${SSE_RETRY_MS}\nid: ${covered}\n\n`;
  }
}

/** Headers already set on the reply (the request id), carried onto the hijacked response. */
function headersOf(reply: FastifyReply): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    if (value !== undefined) {
      headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
    }
  }
  return headers;
}
