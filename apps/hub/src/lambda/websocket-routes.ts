import type { ServerMessage } from '@marvain/contracts';
import type { HubLogger } from '@marvain/platform';
import type { RealtimeGateway, StoredConnections } from '@marvain/realtime';

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
 * Stream messages one subscribe replays before answering `resync_required`: PostToConnection
 * takes some 10-30 ms, so this many fit well inside the function's 29 s timeout.
 */
export const MAX_REPLAY_MESSAGES = 500;

/**
 * The API Gateway WebSocket routes, adapted to realtime's StoredConnections (the protocol).
 * - $connect takes the token from a bearer Authorization header, or a `token` query parameter
 *   since browsers cannot set headers; a refused connection answers 401.
 * - $disconnect ends the connection.
 * - every other route is a frame; the reply is the route response (the $default route has a route
 *   response), so answering costs no Management API call, unless work followed the reply (a
 *   subscription's replay, a close): then the reply was pushed before it and the response is empty.
 */
export class WebSocketRoutes {
  constructor(
    private readonly connections: StoredConnections,
    private readonly gateway: RealtimeGateway,
    private readonly logger: HubLogger,
  ) {}

  async handle(event: WebSocketEvent): Promise<WebSocketResult> {
    const { routeKey, connectionId } = event.requestContext;
    switch (routeKey) {
      case '$connect':
        return this.connect(event);
      case '$disconnect':
        await this.connections.disconnect(connectionId);
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
    const outcome = await this.connections.connect(event.requestContext.connectionId, token, connectedAt(event));
    return outcome.accepted ? { statusCode: 200 } : { statusCode: outcome.status, body: outcome.reason };
  }

  private async message(event: WebSocketEvent): Promise<WebSocketResult> {
    const connectionId = event.requestContext.connectionId;
    const raw = !event.body
      ? ''
      : event.isBase64Encoded
        ? Buffer.from(event.body, 'base64').toString('utf8')
        : event.body;
    let reply: ServerMessage | null;
    try {
      reply = await this.connections.frame(connectionId, raw, connectedAt(event));
    } catch (error) {
      this.logger.error(`connection ${connectionId}: ${String(error)}`);
      reply = this.gateway.internalError();
    }
    return reply ? { statusCode: 200, body: JSON.stringify(reply) } : { statusCode: 200 };
  }
}

function connectedAt(event: WebSocketEvent): Date | undefined {
  const at = event.requestContext.connectedAt;
  return at ? new Date(at) : undefined;
}

function connectionToken(event: WebSocketEvent): string | null {
  const authorization = Object.entries(event.headers ?? {}).find(
    ([name]) => name.toLowerCase() === 'authorization',
  )?.[1];
  const bearer = authorization ? /^Bearer\s+(\S+)$/i.exec(authorization)?.[1] : undefined;
  return bearer || event.queryStringParameters?.['token'] || null;
}
