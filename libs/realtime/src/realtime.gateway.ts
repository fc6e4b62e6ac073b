import { Inject, Injectable } from '@nestjs/common';
import { DomainError, ErrorCode, type ClientMessage, type Principal, type ServerMessage } from '@marvain/contracts';
import { PrincipalResolver } from '@marvain/identity';
import { CLOCK, type Clock } from '@marvain/platform';

/** Per-connection state the transport keeps (in memory locally; in DynamoDB on AWS). */
export interface ConnectionState {
  connectionId: string;
  principal: Principal | null;
}

const MAX_MESSAGE_BYTES = 64 * 1024;

/**
 * The WebSocket protocol, independent of transport: the local `ws` server and the API
 * Gateway handler both pass raw frames here and send back what it returns.
 */
@Injectable()
export class RealtimeGateway {
  constructor(
    private readonly resolver: PrincipalResolver,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async handleFrame(state: ConnectionState, raw: string): Promise<ServerMessage> {
    if (Buffer.byteLength(raw, 'utf8') > MAX_MESSAGE_BYTES) return error(undefined, ErrorCode.PayloadTooLarge, 'messages are limited to 64 KiB');
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      return error(undefined, ErrorCode.ValidationFailed, 'messages must be JSON objects');
    }
    if (!parsed || typeof parsed !== 'object' || typeof (parsed as { type?: unknown }).type !== 'string') {
      return error(undefined, ErrorCode.ValidationFailed, 'messages need a string "type"');
    }
    const message = parsed as ClientMessage;
    const id = typeof message.id === 'string' ? message.id : undefined;
    try {
      switch (message.type) {
        case 'hello':
          return await this.hello(state, id, message.token);
        case 'ping':
          return { type: 'pong', ...(id ? { id } : {}), ts: this.clock.now().toISOString() };
        default:
          return error(id, ErrorCode.ValidationFailed, `unknown message type "${(message as { type: string }).type}"`);
      }
    } catch (caught) {
      if (caught instanceof DomainError) return error(id, caught.code, caught.message);
      throw caught;
    }
  }

  private async hello(state: ConnectionState, id: string | undefined, token: unknown): Promise<ServerMessage> {
    if (typeof token !== 'string' || token === '') return error(id, ErrorCode.ValidationFailed, 'hello needs a "token"');
    const principal = await this.resolver.resolve(token);
    state.principal = principal;
    return {
      type: 'hello_ok',
      ...(id ? { id } : {}),
      principal: { type: principal.type, id: principal.id, agent_ids: principal.agents.map((a) => a.agent_id) },
    };
  }
}

function error(id: string | undefined, code: ErrorCode, message: string): ServerMessage {
  return { type: 'error', ...(id ? { id } : {}), error: { code, message } };
}
