import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { Inject, Injectable, Optional, type OnModuleDestroy } from '@nestjs/common';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { ErrorCode, WsCloseCode, type Principal, type ServerMessage } from '@marvain/contracts';
import { CLOCK, LoggerFactory, type Clock, type HubLogger } from '@marvain/platform';
import { PrincipalRevocations, revocationConcerns, type PrincipalRevocation } from '@marvain/identity';
import { RealtimeGateway, type ConnectionState } from './realtime.gateway';
import { CONNECTION_STORE, epochSeconds, type ConnectionStore, type StoredConnection } from './connection-store';
import type { ConnectionSession, OpenOutcome } from './connection-session';
import type { StoredSubscription } from './connection-store';
import { LocalDelivery, type DeliveryHandle } from './delivery/local-delivery';
import type { DeliverySink } from './delivery/delivery-channel';
import { DEFAULT_WEBSOCKET_LIMITS, TokenBucket, WEBSOCKET_LIMITS, type WebSocketLimits } from './websocket-limits';

export const WEBSOCKET_PATH = '/v1/ws';

/** How long shutdown waits for clients to answer the close frame before dropping them. */
const SHUTDOWN_CLOSE_GRACE_MS = 2000;

/**
 * How long the local record of a connection lives without a sign of life (ping, heartbeat move it
 * on). The socket's close deletes it; the expiry only bounds a record whose close was missed.
 */
const LOCAL_RECORD_TTL_SECONDS = 2 * 3600;

interface Connection {
  ws: WebSocket;
  state: ConnectionState;
  bucket: TokenBucket;
  refused: number;
  /** Set once a close is decided: frames still arriving are ignored. */
  closing: boolean;
  /** Set while frames past the rate are being dropped, so only the first of a run is answered. */
  throttled: boolean;
  helloTimer: NodeJS.Timeout | null;
  /** Frames are handled one at a time per connection, in order. */
  chain: Promise<void>;
  /** When the socket opened. */
  connectedAt: Date;
  /** Whether a hello succeeded (the connection counts against its principal's cap and is stored). */
  opened: boolean;
  /** Whether a `hello_ok` has been sent: unsolicited messages may follow. */
  greeted: boolean;
  /** What the session was asked to do once the current frame's reply is sent. */
  afterReply: Array<() => void | Promise<void>>;
  session: ConnectionSession;
  /** Its stream delivery, from its first subscription on. */
  delivery: DeliveryHandle | null;
}

/**
 * The local runtime's WebSocket endpoint, on the hub's own HTTP server and port. Every cost a
 * client can impose is bounded (see WebSocketLimits and the README's WebSocket section): frame
 * size, frame rate, queued replies, time to authenticate; protocol errors close that one socket.
 */
@Injectable()
export class LocalWebSocketServer implements OnModuleDestroy {
  private readonly logger: HubLogger;
  private limits: WebSocketLimits;
  private server: WebSocketServer | null = null;
  private readonly connections = new Set<Connection>();
  private unsubscribe: (() => void) | null = null;
  private revalidateTimer: NodeJS.Timeout | null = null;
  private revalidating = false;

  constructor(
    private readonly gateway: RealtimeGateway,
    private readonly revocations: PrincipalRevocations,
    @Inject(CONNECTION_STORE) private readonly store: ConnectionStore,
    private readonly delivery: LocalDelivery,
    @Inject(CLOCK) private readonly clock: Clock,
    logs: LoggerFactory,
    @Optional() @Inject(WEBSOCKET_LIMITS) limits?: Partial<WebSocketLimits>,
  ) {
    this.limits = { ...DEFAULT_WEBSOCKET_LIMITS, ...limits };
    this.logger = logs.forContext('WebSocket');
  }

  /** Serves WebSocket upgrades on `http`; `limits` replace the configured ones (tests use small ones). */
  attach(http: Server, limits: Partial<WebSocketLimits> = {}): void {
    this.limits = { ...this.limits, ...limits };
    // autoPong off: a control ping is a frame like any other, rate-limited and answered only while
    // the client reads (the library would queue a pong per ping without bound).
    const wss = new WebSocketServer({ noServer: true, maxPayload: this.limits.maxFrameBytes, autoPong: false });
    // With noServer the library never emits 'error' on the server; a listener keeps that true for any version.
    wss.on('error', (error) => this.logger.warn(`WebSocket server: ${error.message}`));
    // A malformed upgrade request is answered by the library (400) and the socket closed; logged, not thrown.
    wss.on('wsClientError', (error, socket) => {
      this.logger.log(`refused a WebSocket upgrade: ${error.message}`);
      socket.on('error', () => undefined);
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    });
    http.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.onUpgrade(wss, request, socket, head),
    );
    this.server = wss;
    this.unsubscribe = this.revocations.subscribe((revocation) => this.onRevocation(revocation));
    this.revalidateTimer = setInterval(() => void this.revalidate(), this.limits.revalidateEveryMs);
    this.revalidateTimer.unref();
  }

  async close(): Promise<void> {
    this.stopBackground();
    const wss = this.server;
    if (!wss) {
      return;
    }
    this.server = null;
    for (const connection of this.connections) {
      this.closeConnection(connection, WsCloseCode.GoingAway, 'hub shutting down');
    }
    // Clients get a moment to answer the close; one that does not (or does not read) is dropped.
    const dropLaggards = setTimeout(() => {
      for (const client of wss.clients) {
        client.terminate();
      }
    }, SHUTDOWN_CLOSE_GRACE_MS);
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    clearTimeout(dropLaggards);
  }

  onModuleDestroy(): void {
    this.stopBackground();
  }

  /** How many connections are open (for tests and diagnostics). */
  get size(): number {
    return this.connections.size;
  }

  private stopBackground(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.revalidateTimer) {
      clearInterval(this.revalidateTimer);
    }
    this.revalidateTimer = null;
  }

  private onUpgrade(wss: WebSocketServer, request: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Node removes its own error listener from a socket it hands to 'upgrade': without this one, a
    // reset during the handshake (or a write to a closed socket below) would end the process.
    socket.on('error', (error) => this.logger.debug(`upgrade socket: ${error.message}`));
    const path = (request.url ?? '').split('?')[0];
    if (path !== WEBSOCKET_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    if (this.connections.size >= this.limits.maxConnections) {
      const body = JSON.stringify({
        error: {
          code: ErrorCode.Unavailable,
          message: 'the hub holds as many WebSocket connections as it accepts; try again later',
        },
      });
      socket.end(
        `HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 10\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => this.onConnection(ws));
  }

  private onConnection(ws: WebSocket): void {
    const connectionId = randomUUID();
    const connection: Connection = {
      ws,
      state: { connectionId, principal: null, subscriptions: [] },
      bucket: new TokenBucket(this.limits.burstFrames, this.limits.framesPerSecond),
      refused: 0,
      closing: false,
      throttled: false,
      helloTimer: null,
      chain: Promise.resolve(),
      connectedAt: this.clock.now(),
      opened: false,
      greeted: false,
      afterReply: [],
      session: undefined as unknown as ConnectionSession,
      delivery: null,
    };
    connection.session = this.sessionFor(connection);
    this.connections.add(connection);
    connection.helloTimer = setTimeout(() => {
      if (!connection.state.principal) {
        this.closeConnection(
          connection,
          WsCloseCode.Unauthenticated,
          `no successful hello within ${this.limits.helloTimeoutMs / 1000} s`,
        );
      }
    }, this.limits.helloTimeoutMs);
    connection.helloTimer.unref();

    // The library closes the socket itself on a protocol error (1002, 1007, 1009) and then emits
    // 'error'; with no listener that event would end the process.
    ws.on('error', (error: Error & { code?: string }) => {
      this.logger.log(
        `connection ${connection.state.connectionId} closed: ${error.message}${error.code ? ` (${error.code})` : ''}`,
      );
    });
    ws.on('close', () => this.forget(connection));
    ws.on('ping', (data) => {
      if (this.admit(connection) && this.roomToSend(connection)) {
        ws.pong(data);
      }
    });
    ws.on('pong', () => void this.admit(connection));
    ws.on('message', (data, isBinary) => this.onMessage(connection, data, isBinary));
  }

  private onMessage(connection: Connection, data: RawData, isBinary: boolean): void {
    if (!this.admit(connection)) {
      return;
    }
    if (isBinary) {
      this.refuse(connection, this.gateway.binaryRefused());
      return;
    }
    const text = frameText(data);
    this.enqueue(connection, async () => {
      let reply: ServerMessage;
      try {
        reply = await this.gateway.handleFrame(connection.state, text, connection.session);
      } catch (error) {
        this.logger.error(`connection ${connection.state.connectionId}: ${String(error)}`);
        reply = this.gateway.internalError();
      }
      if (connection.state.principal && connection.helloTimer) {
        clearTimeout(connection.helloTimer);
        connection.helloTimer = null;
      }
      this.send(connection, reply);
      if (reply.type === 'hello_ok') {
        connection.greeted = true;
      }
      // The session's work (replay, close) follows the reply, in the order it was asked for.
      const after = connection.afterReply.splice(0);
      for (const work of after) {
        await work();
      }
    });
  }

  /** The gateway's handle on one local connection (see ConnectionSession). */
  private sessionFor(connection: Connection): ConnectionSession {
    return {
      connectionId: connection.state.connectionId,
      opened: (principal) => this.open(connection, principal),
      subscribe: async (subscription: StoredSubscription, fromSeq: number | null) => {
        await this.storeSubscriptions(connection);
        // The replay starts once the `subscribed` reply is on its way.
        connection.afterReply.push(() => this.deliveryOf(connection).subscribe(subscription, fromSeq));
      },
      unsubscribe: async (agentId: string) => {
        // At once: nothing of the agent follows the `unsubscribed` reply.
        connection.delivery?.unsubscribe(agentId);
        await this.storeSubscriptions(connection);
      },
      seen: async () => {
        const now = this.clock.now();
        const stored = await this.store.get(connection.state.connectionId);
        if (stored) {
          await this.store.put({
            ...stored,
            last_seen: now.toISOString(),
            expires_at: epochSeconds(now) + LOCAL_RECORD_TTL_SECONDS,
          });
        }
      },
      close: (code, reason) => {
        connection.afterReply.push(() => this.closeConnection(connection, code, reason));
      },
      later: (work) => {
        connection.afterReply.push(work);
      },
    };
  }

  /**
   * Sends an unsolicited message (a device command) to the connection, when this server holds it
   * open and its `hello_ok` has gone out (a command never overtakes it); false otherwise.
   */
  async sendTo(connectionId: string, message: ServerMessage): Promise<boolean> {
    const connection = [...this.connections].find((c) => c.state.connectionId === connectionId);
    if (!connection?.greeted || connection.closing || connection.ws.readyState !== connection.ws.OPEN) {
      return false;
    }
    if (!this.roomToSend(connection)) {
      return false;
    }
    return new Promise<boolean>((resolve) => {
      connection.ws.send(JSON.stringify(message), (error) => resolve(!error));
    });
  }

  private deliveryOf(connection: Connection): DeliveryHandle {
    if (!connection.delivery) {
      const { ws } = connection;
      const sink: DeliverySink = {
        encode: (message) => JSON.stringify(message),
        write: (text, written) => {
          if (ws.readyState === ws.OPEN) {
            ws.send(text, () => written());
          }
        },
        buffered: () => ws.bufferedAmount,
      };
      connection.delivery = this.delivery.open(
        () => {
          const principal = connection.state.principal;
          if (!principal) {
            throw new Error(`connection ${connection.state.connectionId} delivers before hello`);
          }
          return principal;
        },
        sink,
        {
          stopped: (agentId) => {
            connection.state.subscriptions = connection.state.subscriptions.filter((s) => s.agent_id !== agentId);
            this.enqueue(connection, () => this.storeSubscriptions(connection));
          },
        },
        this.limits,
      );
    }
    return connection.delivery;
  }

  /** Counts the connection against its principal's cap and stores its record. */
  private async open(connection: Connection, principal: Principal): Promise<OpenOutcome> {
    if (!connection.opened) {
      let held = 0;
      for (const other of this.connections) {
        const theirs = other.state.principal;
        if (other.opened && theirs && theirs.type === principal.type && theirs.id === principal.id) {
          held += 1;
        }
      }
      if (held >= this.limits.maxConnectionsPerPrincipal) {
        return 'over_cap';
      }
      connection.opened = true;
    }
    await this.store.put(this.record(connection, principal));
    return 'opened';
  }

  private record(connection: Connection, principal: Principal): StoredConnection {
    const now = this.clock.now();
    return {
      connection_id: connection.state.connectionId,
      principal,
      agent_ids: principal.agents.map((agent) => agent.agent_id),
      subscriptions: connection.state.subscriptions,
      connected_at: connection.connectedAt.toISOString(),
      last_seen: now.toISOString(),
      expires_at: epochSeconds(now) + LOCAL_RECORD_TTL_SECONDS,
    };
  }

  private async storeSubscriptions(connection: Connection): Promise<void> {
    const stored = await this.store.get(connection.state.connectionId);
    if (stored) {
      await this.store.put({ ...stored, subscriptions: connection.state.subscriptions });
    }
  }

  /** Takes a token for one frame; a frame past the rate is dropped (the first of a run answered). */
  private admit(connection: Connection): boolean {
    if (connection.closing || connection.ws.readyState !== connection.ws.OPEN) {
      return false; // closing: frames still in flight are ignored
    }
    if (connection.bucket.take()) {
      connection.throttled = false;
      return true;
    }
    const first = !connection.throttled;
    connection.throttled = true;
    this.refuse(connection, first ? this.gateway.rateLimited(this.limits.framesPerSecond) : null);
    return false;
  }

  /** Counts a refused frame, answering it when given a reply; too many close the socket (1008). */
  private refuse(connection: Connection, reply: ServerMessage | null): void {
    if (connection.closing) {
      return;
    }
    connection.refused += 1;
    if (connection.refused > this.limits.maxRefusedFrames) {
      this.logger.log(
        `connection ${connection.state.connectionId}: closed after ${this.limits.maxRefusedFrames} refused frames`,
      );
      // After the replies to the frames it was admitted: the client learns what was answered.
      connection.closing = true;
      this.enqueue(connection, () => {
        this.closeConnection(
          connection,
          WsCloseCode.PolicyViolation,
          'too many refused frames (binary, or past the rate limit)',
        );
      });
      return;
    }
    if (reply) {
      this.enqueue(connection, () => this.send(connection, reply));
    }
  }

  /** Runs after the connection's earlier work; a failure is logged, never left as an unhandled rejection (which ends the process). */
  private enqueue(connection: Connection, work: () => void | Promise<void>): void {
    connection.chain = connection.chain.then(work).catch((error: unknown) => {
      this.logger.error(`connection ${connection.state.connectionId}: ${String(error)}`);
    });
  }

  private send(connection: Connection, reply: ServerMessage): void {
    if (connection.ws.readyState !== connection.ws.OPEN) {
      return;
    }
    if (!this.roomToSend(connection)) {
      return;
    }
    // Once the reply is out, stream messages waiting behind it may go.
    connection.ws.send(JSON.stringify(reply), () => connection.delivery?.channel.pump());
  }

  /** False (and the socket closed with 1013) once the client has left too much unread. */
  private roomToSend(connection: Connection): boolean {
    if (connection.ws.bufferedAmount <= this.limits.maxSendBufferBytes) {
      return true;
    }
    this.logger.log(
      `connection ${connection.state.connectionId}: closed, it left over ${this.limits.maxSendBufferBytes} bytes unread`,
    );
    this.closeConnection(connection, WsCloseCode.TryAgainLater, 'replies are not being read');
    return false;
  }

  private closeConnection(connection: Connection, code: number, reason: string): void {
    const { ws } = connection;
    connection.closing = true;
    // A client that never answers the close frame is dropped by the library after 30 s.
    if (ws.readyState === ws.OPEN) {
      ws.close(code, reason);
    }
  }

  private forget(connection: Connection): void {
    if (connection.helloTimer) {
      clearTimeout(connection.helloTimer);
    }
    connection.helloTimer = null;
    this.connections.delete(connection);
    connection.delivery?.close();
    if (!connection.opened) {
      return;
    }
    const principal = connection.state.principal;
    const lastOfPrincipal =
      principal !== null &&
      ![...this.connections].some(
        (other) =>
          other.opened && other.state.principal?.type === principal.type && other.state.principal.id === principal.id,
      );
    this.enqueue(connection, async () => {
      await this.store.delete(connection.state.connectionId);
      await this.gateway.closed(connection.state, lastOfPrincipal);
    });
  }

  private onRevocation(revocation: PrincipalRevocation): void {
    for (const connection of this.connections) {
      const principal = connection.state.principal;
      if (!principal || !revocationConcerns(revocation, principal)) {
        continue;
      }
      // A user loses one agent (disabled, membership ended) but keeps their token: hello again.
      const own = revocation.principal?.type === principal.type && revocation.principal.id === principal.id;
      const credentialGone = revocation.reason === 'credential_revoked' && (own || principal.type !== 'user');
      this.closeConnection(
        connection,
        credentialGone ? WsCloseCode.Unauthenticated : WsCloseCode.AccessChanged,
        credentialGone ? 'the credential is no longer accepted' : 'access changed; send hello again',
      );
    }
  }

  /** Re-checks every authenticated connection, one at a time (a backstop: changes made by another process). */
  private async revalidate(): Promise<void> {
    if (this.revalidating) {
      return;
    }
    this.revalidating = true;
    try {
      for (const connection of [...this.connections]) {
        if (!connection.state.principal) {
          continue;
        }
        try {
          const standing = await this.gateway.standing(connection.state);
          if (standing === 'revoked') {
            this.closeConnection(connection, WsCloseCode.Unauthenticated, 'the credential is no longer accepted');
          } else if (standing === 'changed') {
            this.closeConnection(connection, WsCloseCode.AccessChanged, 'access changed; send hello again');
          }
        } catch (error) {
          this.logger.warn(`could not re-check connection ${connection.state.connectionId}: ${String(error)}`);
        }
      }
    } finally {
      this.revalidating = false;
    }
  }
}

function frameText(data: RawData): string {
  if (Array.isArray(data)) {
    return Buffer.concat(data).toString('utf8');
  }
  return Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(new Uint8Array(data)).toString('utf8');
}
