import { Logger, type LoggerService } from '@nestjs/common';
import { DomainError, ErrorCode, type Principal, type ServerMessage } from '@marvain/contracts';
import type { PrincipalResolver } from '@marvain/identity';
import { epochSeconds, type Clock, type ConnectionStore, type StoredConnection } from '@marvain/platform';
import type { ConnectionState, RealtimeGateway } from '@marvain/realtime';

/** The parts of an API Gateway WebSocket event ($connect, $disconnect, $default) the routes read. */
export interface WebSocketEvent {
  requestContext: {
    routeKey: string;
    connectionId: string;
    /** Epoch milliseconds the connection opened (API Gateway sets it on every event). */
    connectedAt?: number;
  };
  headers?: Record<string, string | undefined> | null;
  queryStringParameters?: Record<string, string | undefined> | null;
  body?: string | null;
  isBase64Encoded?: boolean;
}

export interface WebSocketResult {
  statusCode: number;
  body?: string;
}

/**
 * API Gateway closes every WebSocket connection after two hours at most, so a stored connection
 * expires then (plus a minute's grace): the row never needs refreshing per message, and one whose
 * $disconnect was lost is removed by the table's TTL.
 */
export const CONNECTION_TTL_SECONDS = 2 * 3600 + 60;

/**
 * The API Gateway WebSocket routes over the transport-agnostic realtime gateway.
 * - $connect authenticates the connection request (a bearer Authorization header, or a `token`
 *   query parameter since browsers cannot set headers) and stores the connection; 401 otherwise.
 * - $disconnect deletes it.
 * - every message goes to RealtimeGateway.handleFrame, the code the local `ws` server runs, with
 *   the stored principal; a principal change (hello) is stored. The reply is the route response
 *   (the $default route has a route response), so answering costs no Management API call.
 */
export class WebSocketRoutes {
  constructor(
    private readonly gateway: RealtimeGateway,
    private readonly resolver: PrincipalResolver,
    private readonly store: ConnectionStore,
    private readonly clock: Clock,
    private readonly logger: LoggerService = new Logger('Lambda:ws'),
  ) {}

  async handle(event: WebSocketEvent): Promise<WebSocketResult> {
    switch (event.requestContext.routeKey) {
      case '$connect':
        return this.connect(event);
      case '$disconnect':
        await this.store.delete(event.requestContext.connectionId);
        return { statusCode: 200 };
      default:
        return this.message(event);
    }
  }

  private async connect(event: WebSocketEvent): Promise<WebSocketResult> {
    const token = connectionToken(event);
    if (!token) {
      return { statusCode: 401, body: 'send credentials as "Authorization: Bearer <token>" or ?token=<token>' };
    }
    let principal: Principal;
    try {
      principal = await this.resolver.resolve(token);
    } catch (error) {
      if (error instanceof DomainError && error.code === ErrorCode.Unauthenticated) {
        return { statusCode: 401, body: error.message };
      }
      throw error;
    }
    await this.store.put(this.record(event, principal));
    return { statusCode: 200 };
  }

  private async message(event: WebSocketEvent): Promise<WebSocketResult> {
    const connectionId = event.requestContext.connectionId;
    const stored = await this.store.get(connectionId);
    // A connection whose row has gone (expired, or lost) may still ping, and a hello re-authenticates it.
    const state: ConnectionState = { connectionId, principal: stored?.principal ?? null };
    const raw = !event.body
      ? ''
      : event.isBase64Encoded
        ? Buffer.from(event.body, 'base64').toString('utf8')
        : event.body;
    let reply: ServerMessage;
    try {
      reply = await this.gateway.handleFrame(state, raw);
      if (state.principal && state.principal !== stored?.principal) {
        await this.store.put(
          stored
            ? { ...stored, principal: state.principal, agent_ids: agentIds(state.principal) }
            : this.record(event, state.principal),
        );
      }
    } catch (error) {
      this.logger.error(`connection ${connectionId}: ${String(error)}`);
      reply = { type: 'error', error: { code: ErrorCode.Internal, message: 'internal error' } };
    }
    return { statusCode: 200, body: JSON.stringify(reply) };
  }

  private record(event: WebSocketEvent, principal: Principal): StoredConnection {
    const connectedAt = event.requestContext.connectedAt
      ? new Date(event.requestContext.connectedAt)
      : this.clock.now();
    return {
      connection_id: event.requestContext.connectionId,
      principal,
      agent_ids: agentIds(principal),
      connected_at: connectedAt.toISOString(),
      expires_at: epochSeconds(connectedAt) + CONNECTION_TTL_SECONDS,
    };
  }
}

function agentIds(principal: Principal): string[] {
  return principal.agents.map((agent) => agent.agent_id);
}

function connectionToken(event: WebSocketEvent): string | null {
  const authorization = Object.entries(event.headers ?? {}).find(
    ([name]) => name.toLowerCase() === 'authorization',
  )?.[1];
  const bearer = authorization ? /^Bearer\s+(\S+)$/i.exec(authorization)?.[1] : undefined;
  return bearer || event.queryStringParameters?.['token'] || null;
}
