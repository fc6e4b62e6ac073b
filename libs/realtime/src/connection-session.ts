import type { Principal, WsCloseCode } from '@marvain/contracts';
import type { StoredSubscription } from './connection-store';

/** What `ConnectionSession.opened` answers: the connection counts, or the principal holds too many. */
export type OpenOutcome = 'opened' | 'over_cap';

/**
 * One connection as the transport that holds it sees it: how `RealtimeGateway.handleFrame` hands
 * the transport the work that follows a frame's reply. Each transport implements it per
 * connection — the local `ws` server over its sockets and the in-process delivery, the API Gateway
 * transport per invocation over the ConnectionStore (DynamoDB) and the ConnectionPush.
 *
 * The gateway stays reply-per-frame: `handleFrame(state, raw, session)` returns exactly one reply,
 * and while computing it may call the session. The transport then:
 * 1. sends the reply;
 * 2. only after it, does what the calls asked for: the stream messages of a new subscription
 *    (the replay from its first seq, in seq order, then live entries), `later` work, and a `close`.
 * A transport never sends a `stream` message of a subscription before the `subscribed` reply that
 * started it, never one twice, never out of seq order; entries the subscriber may not hear
 * (`hears`) are skipped without leaving a gap in its position.
 *
 * `state` is the transport's own object: the gateway has already updated `state.principal` and
 * `state.subscriptions` when it calls a session method, so an implementation persists those.
 * One frame calls at most one of `opened`, `subscribe` and `unsubscribe` (one agent per frame).
 *
 * When the connection ends, the transport deletes its record and calls
 * `RealtimeGateway.closed(state, lastOfPrincipal)`, telling it whether that was the principal's
 * last connection on the hub (presence then marks it offline).
 */
export interface ConnectionSession {
  readonly connectionId: string;

  /**
   * A hello succeeded for `principal` (again, for a hello that resolved to the same principal:
   * its scopes may have changed). The transport writes the connection record to the
   * CONNECTION_STORE (spec 000 §5.2: principal, agent_ids, subscriptions, connected_at, last_seen)
   * and counts the connection against the per-principal cap (a repeated hello is not counted
   * twice). 'over_cap': the principal already holds the most connections allowed; nothing is
   * stored, and the gateway answers an error and calls `close(TooManyConnections)`.
   */
  opened(principal: Principal): Promise<OpenOutcome>;

  /**
   * Starts, or replaces, the connection's subscription to `subscription.agent_id` (one per agent).
   * `fromSeq` is the first seq to deliver: the gateway checked it is available (not expired) and
   * has answered `subscribed {last_seq}` with the head it read, so `fromSeq` is the client's
   * `from_seq` or `last_seq + 1`. The transport replays entries from `fromSeq` that the
   * subscriber hears, in order, then tails, with no gap and no duplicate between the two.
   * `null` keeps the position of the connection's current subscription to that agent (only its
   * topics or space changed, e.g. `subscribe_presence` adding `presence.updated`); the gateway
   * passes null only when such a subscription exists.
   */
  subscribe(subscription: StoredSubscription, fromSeq: number | null): Promise<void>;

  /** Stops the subscription to the agent (nothing more is sent for it); a missing one is no error. */
  unsubscribe(agentId: string): Promise<void>;

  /** A sign of life (ping, heartbeat): the record's `last_seen`. A transport may write it lazily. */
  seen(): Promise<void>;

  /** Closes the connection with `code` once the reply to the current frame has been sent. */
  close(code: WsCloseCode, reason: string): void;

  /**
   * Work for once the reply to the current frame has been sent, in the order asked for (a device's
   * pending commands after its `hello_ok`). A failure of it is the work's own to handle.
   */
  later(work: () => Promise<void>): void;
}
