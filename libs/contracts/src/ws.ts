import type { CommandError, CommandStatus, DeviceCommandArgs } from './commands';
import type { PresenceStatus, PresenceView, StreamEntry, StreamTopic } from './stream';

/**
 * WebSocket messages (client → hub). Every message may carry `id` (a string of at most 64
 * characters), echoed in the reply. Each verb needs the same scope as its REST twin.
 */
export type ClientMessage =
  | { type: 'hello'; id?: string; token: string }
  | { type: 'ping'; id?: string }
  /** A device's sign of life (REST twin: POST /v1/devices/heartbeat); `space_id` says where it is. */
  | { type: 'heartbeat'; id?: string; status?: Exclude<PresenceStatus, 'offline'>; space_id?: string }
  /** REST twin: POST /v1/events. */
  | {
      type: 'send_event';
      id?: string;
      event: {
        space_id: string;
        type: string;
        payload: Record<string, unknown>;
        client_event_id?: string;
        agent_id?: string;
      };
    }
  /** A `transcript_chunk` event with `payload.text`. */
  | { type: 'push_transcript'; id?: string; space_id: string; text: string; client_event_id?: string }
  /**
   * Hear an agent's stream: `topics` (default: every topic the principal may read), only one space
   * when `space_id` is set, replaying from `from_seq` (inclusive) before tailing. One subscription
   * per agent per connection: subscribing again replaces it.
   */
  | { type: 'subscribe'; id?: string; agent_id: string; space_id?: string; topics?: StreamTopic[]; from_seq?: number }
  | { type: 'unsubscribe'; id?: string; agent_id: string }
  /** The agent's (or one space's) presence now, then `presence.updated` messages as it changes. */
  | { type: 'subscribe_presence'; id?: string; agent_id: string; space_id?: string }
  /** REST twin: GET /v1/actions. */
  | { type: 'list_actions'; id?: string; agent_id: string; status?: string; limit?: number; cursor?: string }
  /** REST twin: POST /v1/actions/:action_id/approve. */
  | { type: 'approve_action'; id?: string; action_id: string }
  /** REST twin: POST /v1/actions/:action_id/reject. */
  | { type: 'reject_action'; id?: string; action_id: string; reason?: string }
  /**
   * A device's answer to a `cmd.*` it was sent (devices only, for their own commands). `result`
   * when `ok`, `error` otherwise. A second result for the same command changes nothing.
   */
  | {
      type: 'cmd.result';
      id?: string;
      command_id: string;
      ok: boolean;
      result?: Record<string, unknown>;
      error?: CommandError;
    };

export type ClientMessageType = ClientMessage['type'];

/** The principal as `hello_ok` states it: who, for which agents, with which scopes on each. */
export interface HelloPrincipal {
  type: string;
  id: string;
  agent_ids: string[];
  /** Scopes per agent id. */
  scopes: Record<string, string[]>;
}

/** Fields every hub → device command carries. */
interface CommandMessageBase {
  command_id: string;
  /** ISO 8601: when the command was created, and after when the hub stops waiting for its result. */
  issued_at: string;
  expires_at: string;
}

/**
 * A command for the device holding this connection (unsolicited). Sent when it is created and
 * again on every `hello` until it has a result or expires: deduplicate by `command_id`, and answer
 * each with `cmd.result`.
 */
export type CommandMessage =
  | ({ type: 'cmd.ping'; args: DeviceCommandArgs['ping'] } & CommandMessageBase)
  | ({ type: 'cmd.config'; args: DeviceCommandArgs['config'] } & CommandMessageBase)
  | ({ type: 'cmd.run_action'; args: DeviceCommandArgs['run_action'] } & CommandMessageBase);

/** WebSocket messages (hub → client). Replies echo the request's `id`; `stream`, `resync_required` and `cmd.*` are unsolicited. */
export type ServerMessage =
  | {
      type: 'hello_ok';
      id?: string;
      protocol: number;
      principal: HelloPrincipal;
      connection_id: string;
      heartbeat_interval_s: number;
    }
  | { type: 'pong'; id?: string; ts: string }
  | { type: 'heartbeat_ok'; id?: string; ts: string }
  | { type: 'event_ack'; id?: string; event_id: string | null; stored: boolean; duplicate: boolean }
  | {
      type: 'subscribed';
      id?: string;
      agent_id: string;
      space_id: string | null;
      topics: StreamTopic[];
      /** The agent's last committed seq when the subscription started: live messages follow it. */
      last_seq: number;
    }
  | { type: 'unsubscribed'; id?: string; agent_id: string }
  | { type: 'presence'; id?: string; agent_id: string; space_id: string | null; presence: PresenceView[] }
  | { type: 'actions'; id?: string; actions: Array<Record<string, unknown>>; next_cursor: string | null }
  | { type: 'action'; id?: string; action: Record<string, unknown> }
  /** One entry of a subscribed agent's stream. */
  | ({ type: 'stream' } & StreamEntry)
  /**
   * The connection fell too far behind on an agent's stream: nothing after `last_seq` was sent
   * and the subscription stopped. Subscribe again with `from_seq: last_seq + 1`.
   */
  | { type: 'resync_required'; agent_id: string; last_seq: number }
  | CommandMessage
  /** The reply to `cmd.result`: the command's status now; `duplicate` when it already had a result. */
  | { type: 'cmd.result_ok'; id?: string; command_id: string; status: CommandStatus; duplicate: boolean }
  | { type: 'error'; id?: string; error: { code: string; message: string; details?: unknown } };

/** The longest `id` the hub accepts and echoes; a longer one is refused, echoing only this many characters. */
export const WS_MAX_ID_CHARS = 64;

/**
 * The close codes the hub's WebSocket uses; clients switch on these. 1002, 1007 and 1009 come
 * from the WebSocket library when a frame breaks the protocol; the others are the hub's.
 */
export const WsCloseCode = {
  /** The hub is shutting down. */
  GoingAway: 1001,
  /** A frame broke the WebSocket protocol (unmasked, reserved opcode or bits, bad framing). */
  ProtocolError: 1002,
  /** A text frame was not valid UTF-8. */
  InvalidPayload: 1007,
  /** Too many refused frames (binary frames, or frames past the rate limit). */
  PolicyViolation: 1008,
  /** A frame (or message) over 64 KiB. */
  MessageTooBig: 1009,
  /** The client does not read its replies: the hub's send buffer for it passed its cap. Reconnect. */
  TryAgainLater: 1013,
  /**
   * Not, or no longer, authenticated: no successful `hello` within the deadline, or the
   * credential stopped being accepted (device revoked or token rotated, agent key revoked,
   * agent disabled, user token revoked or expired).
   */
  Unauthenticated: 4401,
  /** The principal's access changed (a membership ended or changed role): send `hello` again. */
  AccessChanged: 4403,
  /** The principal already holds as many connections as the hub allows one principal. */
  TooManyConnections: 4429,
} as const;
export type WsCloseCode = (typeof WsCloseCode)[keyof typeof WsCloseCode];
