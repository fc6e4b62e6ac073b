import { Inject, Injectable } from '@nestjs/common';
import {
  DomainError,
  ErrorCode,
  HEARTBEAT_INTERVAL_SECONDS,
  PROTOCOL_VERSION,
  WS_MAX_ID_CHARS,
  WsCloseCode,
  type ClientMessage,
  type Principal,
  type ServerMessage,
} from '@marvain/contracts';
import { CommandsService } from '@marvain/commands';
import { PrincipalResolver, type PrincipalStanding } from '@marvain/identity';
import { CLOCK, LoggerFactory, unsafeMessageText, type Clock, type HubLogger } from '@marvain/platform';
import { PRESENCE_REFRESH_SECONDS, PresenceService } from '@marvain/presence';
import type { StoredSubscription } from './connection-store';
import type { ConnectionSession } from './connection-session';
import { ProtocolVerbs } from './protocol-verbs';

/** Per-connection state the transport keeps (in memory locally; rebuilt from the ConnectionStore per frame on AWS). */
export interface ConnectionState {
  connectionId: string;
  principal: Principal | null;
  /**
   * The token the principal was resolved from, kept in memory only (never stored) so the local
   * server can re-check it without consuming anything.
   */
  token?: string;
  /** What the connection hears, one per agent; the gateway keeps it current, the transport stores it. */
  subscriptions: StoredSubscription[];
  /**
   * When a ping last reached presence (clock milliseconds). Pings may come 20 a second; presence
   * needs one sign per refresh window, so the rest cost nothing. Absent on AWS, where state lives
   * for one frame and every ping is an invocation anyway.
   */
  lastSeenAt?: number;
}

const MAX_MESSAGE_BYTES = 64 * 1024;

/** A server message before its `id` is echoed in. */
type ReplyBody = ServerMessage extends infer M ? (M extends unknown ? Omit<M, 'id'> : never) : never;

/** Message types served before a successful hello: the rest answer `unauthenticated`. */
const BEFORE_HELLO = new Set(['hello', 'ping']);

/**
 * The WebSocket protocol, independent of transport: the local `ws` server and the API
 * Gateway handler both pass raw frames here and send back what it returns.
 */
@Injectable()
export class RealtimeGateway {
  private readonly logger: HubLogger;

  constructor(
    private readonly resolver: PrincipalResolver,
    private readonly verbs: ProtocolVerbs,
    private readonly presence: PresenceService,
    private readonly commands: CommandsService,
    @Inject(CLOCK) private readonly clock: Clock,
    logs: LoggerFactory,
  ) {
    this.logger = logs.forContext('Realtime');
  }

  /**
   * The one reply to a text frame. Work that follows the reply (a subscription's replay, a close)
   * is handed to `session`, which the transport carries out after sending the reply (see
   * ConnectionSession).
   */
  async handleFrame(state: ConnectionState, raw: string, session: ConnectionSession): Promise<ServerMessage> {
    if (Buffer.byteLength(raw, 'utf8') > MAX_MESSAGE_BYTES) {
      return error(undefined, ErrorCode.PayloadTooLarge, 'messages are limited to 64 KiB');
    }
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
    const rawId: unknown = message.id;
    // An id is echoed only when it is a short string: a reply never carries more than WS_MAX_ID_CHARS of it.
    if (rawId !== undefined && typeof rawId !== 'string') {
      return error(undefined, ErrorCode.ValidationFailed, '"id" must be a string');
    }
    if (typeof rawId === 'string' && rawId.length > WS_MAX_ID_CHARS) {
      return error(
        rawId.slice(0, WS_MAX_ID_CHARS),
        ErrorCode.ValidationFailed,
        `"id" is limited to ${WS_MAX_ID_CHARS} characters`,
      );
    }
    const id = rawId;
    if (!state.principal && !BEFORE_HELLO.has(message.type)) {
      return error(id, ErrorCode.Unauthenticated, 'send "hello" with a token first');
    }
    // The REST rule, for the same reason: no NUL or lone surrogate reaches a service or the database.
    const unsafe = unsafeMessageText(message);
    if (unsafe) {
      return error(id, unsafe.code, unsafe.message, unsafe.details);
    }
    try {
      const reply = await this.dispatch(state, message, session);
      // `type` first, then the echoed `id`, then the rest: the order every reply is written in.
      const { type, ...rest } = reply;
      return { type, ...(id ? { id } : {}), ...rest } as ServerMessage;
    } catch (caught) {
      if (caught instanceof DomainError) {
        return error(id, caught.code, caught.message, caught.details);
      }
      this.logger.error(`connection ${state.connectionId}: ${message.type} failed: ${String(caught)}`);
      return error(id, ErrorCode.Internal, 'internal error');
    }
  }

  private async dispatch(
    state: ConnectionState,
    message: ClientMessage,
    session: ConnectionSession,
  ): Promise<ReplyBody> {
    const { type, id: _id, ...fields } = message as ClientMessage & Record<string, unknown>;
    if (type === 'hello') {
      return this.hello(state, fields['token'], session);
    }
    if (type === 'ping') {
      return this.ping(state, session);
    }
    const principal = state.principal;
    if (!principal) {
      throw new DomainError(ErrorCode.Unauthenticated, 'send "hello" with a token first');
    }
    switch (type) {
      case 'heartbeat': {
        const reply = await this.verbs.heartbeat(principal, fields);
        await this.quietly('heartbeat', () => session.seen());
        return reply;
      }
      case 'send_event':
        return this.verbs.sendEvent(principal, fields);
      case 'push_transcript':
        return this.verbs.pushTranscript(principal, fields);
      case 'list_actions':
        return this.verbs.listActions(principal, fields);
      case 'approve_action':
        return this.verbs.approveAction(principal, fields);
      case 'reject_action':
        return this.verbs.rejectAction(principal, fields);
      case 'subscribe':
        return this.verbs.subscribe(state, principal, fields, session);
      case 'unsubscribe':
        return this.verbs.unsubscribe(state, fields, session);
      case 'subscribe_presence':
        return this.verbs.subscribePresence(state, principal, fields, session);
      case 'cmd.result':
        return this.verbs.commandResult(principal, fields);
      default:
        throw new DomainError(ErrorCode.ValidationFailed, `unknown message type "${shorten(String(type))}"`);
    }
  }

  /** A sign of life; presence is told, but its failure never fails the pong. */
  private async ping(state: ConnectionState, session: ConnectionSession): Promise<ReplyBody> {
    const principal = state.principal;
    const now = this.clock.now().getTime();
    const due = state.lastSeenAt === undefined || now - state.lastSeenAt >= PRESENCE_REFRESH_SECONDS * 1000;
    if (principal && due) {
      state.lastSeenAt = now;
      await this.quietly('seen', async () => {
        await session.seen();
        await this.presence.seen(principal);
      });
    }
    return { type: 'pong', ts: this.clock.now().toISOString() };
  }

  /** Presence is a side effect of the protocol: its failure is logged, never the client's error. */
  private async quietly(what: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (caught) {
      this.logger.warn(`presence (${what}) failed: ${String(caught)}`);
    }
  }

  /** Whether the device has commands to deliver; a failure to tell is logged, never the hello's error. */
  private async hasPendingCommands(deviceId: string): Promise<boolean> {
    try {
      return await this.commands.hasPending(deviceId);
    } catch (caught) {
      this.logger.warn(`pending commands of device ${deviceId} unknown: ${String(caught)}`);
      return false;
    }
  }

  /** The reply to a binary frame: the protocol is JSON text only. */
  binaryRefused(): ServerMessage {
    return error(undefined, ErrorCode.UnsupportedMediaType, 'binary frames are not accepted; send JSON text frames');
  }

  /** The reply to a frame whose handling failed unexpectedly (the transport logs the failure). */
  internalError(): ServerMessage {
    return error(undefined, ErrorCode.Internal, 'internal error');
  }

  /** The reply to a frame past the connection's rate limit (the frame is dropped unread). */
  rateLimited(framesPerSecond: number): ServerMessage {
    return error(
      undefined,
      ErrorCode.RateLimited,
      `too many frames: at most ${framesPerSecond} per second; this one was dropped`,
    );
  }

  /** Whether the connection's principal still stands (consumes nothing); 'valid' for a connection without one. */
  async standing(state: ConnectionState): Promise<PrincipalStanding> {
    if (!state.principal || state.token === undefined) {
      return 'valid';
    }
    return this.resolver.stillValid(state.principal, state.token);
  }

  /**
   * The connection ended (the transport has deleted its record). `lastOfPrincipal`: no other
   * connection of the principal is open on the hub, so its connection presence goes offline.
   */
  async closed(state: ConnectionState, lastOfPrincipal: boolean): Promise<void> {
    const principal = state.principal;
    if (!principal || !lastOfPrincipal) {
      return;
    }
    await this.quietly('disconnected', () => this.presence.disconnected(principal));
  }

  /**
   * A connection authenticates once. A later hello that resolves to the same principal refreshes
   * its scopes and answers hello_ok again (same connection id); one that resolves to another
   * principal is refused `conflict`: a connection never changes whom it speaks for.
   */
  private async hello(state: ConnectionState, token: unknown, session: ConnectionSession): Promise<ReplyBody> {
    if (typeof token !== 'string' || token === '') {
      throw new DomainError(ErrorCode.ValidationFailed, 'hello needs a "token"', {
        fields: [{ field: 'token', problems: ['token must be a non-empty string'] }],
      });
    }
    const principal = await this.resolver.resolve(token);
    const previous = state.principal;
    if (previous && (previous.type !== principal.type || previous.id !== principal.id)) {
      throw new DomainError(
        ErrorCode.Conflict,
        'this connection is already authenticated as another principal; open a new connection',
      );
    }
    if ((await session.opened(principal)) === 'over_cap') {
      session.close(WsCloseCode.TooManyConnections, 'too many connections for this principal');
      throw new DomainError(ErrorCode.RateLimited, 'this principal holds as many connections as the hub allows');
    }
    state.principal = principal;
    state.token = token;
    await this.quietly('connected', () => this.presence.connected(principal));
    if (principal.type === 'device' && (await this.hasPendingCommands(principal.id))) {
      // Its pending commands follow the hello_ok, oldest first (after every hello: at-least-once).
      session.later(async () => {
        try {
          await this.commands.deliverPending(principal.id, state.connectionId);
        } catch (caught) {
          this.logger.warn(`connection ${state.connectionId}: pending commands not delivered: ${String(caught)}`);
        }
      });
    }
    return {
      type: 'hello_ok',
      protocol: PROTOCOL_VERSION,
      principal: {
        type: principal.type,
        id: principal.id,
        agent_ids: principal.agents.map((a) => a.agent_id),
        scopes: Object.fromEntries(principal.agents.map((a) => [a.agent_id, [...a.scopes]])),
      },
      connection_id: state.connectionId,
      heartbeat_interval_s: HEARTBEAT_INTERVAL_SECONDS,
    };
  }
}

function error(id: string | undefined, code: ErrorCode, message: string, details?: unknown): ServerMessage {
  return {
    type: 'error',
    ...(id ? { id } : {}),
    error: { code, message, ...(details !== undefined ? { details } : {}) },
  };
}

/** A client-supplied string quoted in a message: at most WS_MAX_ID_CHARS characters of it. */
function shorten(text: string): string {
  return text.length > WS_MAX_ID_CHARS ? `${text.slice(0, WS_MAX_ID_CHARS)}…` : text;
}
