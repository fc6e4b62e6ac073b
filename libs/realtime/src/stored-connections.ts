import { DomainError, ErrorCode, type Principal, type ServerMessage } from '@marvain/contracts';
import type { PrincipalResolver } from '@marvain/identity';
import type { Clock, HubLogger } from '@marvain/platform';
import type { PresenceService } from '@marvain/presence';
import { STREAM_READ_LIMIT, type AgentStream } from '@marvain/streams';
import type { ConnectionPush } from './connection-push';
import type { ConnectionSession } from './connection-session';
import { epochSeconds, type ConnectionStore, type StoredConnection, type StoredSubscription } from './connection-store';
import type { ConnectionState, RealtimeGateway } from './realtime.gateway';
import { hears } from './subscriptions';

/** Whether a connection request was accepted; `status` and `reason` say why not. */
export type ConnectOutcome = { accepted: true } | { accepted: false; status: 401 | 429; reason: string };

/** What StoredConnections works with; on AWS: DynamoDB, the Management API and the Data API. */
export interface StoredConnectionsParts {
  gateway: RealtimeGateway;
  resolver: PrincipalResolver;
  presence: PresenceService;
  store: ConnectionStore;
  push: ConnectionPush;
  stream: Pick<AgentStream, 'head' | 'read'>;
  clock: Clock;
  logger: HubLogger;
}

export interface StoredConnectionsLimits {
  /** How long after opening a stored connection expires (the transport's longest connection). */
  ttlSeconds: number;
  /** Connections one principal may hold at once (counted at $connect and at a hello). */
  maxConnectionsPerPrincipal: number;
  /**
   * Stream messages one subscribe replays, within the function's timeout; past it the client gets
   * `resync_required` and subscribes again from there.
   */
  maxReplay: number;
}

/**
 * The WebSocket protocol for a transport that keeps no connection in memory between frames (API
 * Gateway invokes a function per event): each connection lives in the ConnectionStore.
 * - connect authenticates the token the connection request carried, counts the connection
 *   against the principal's cap and stores it.
 * - disconnect deletes it, telling the gateway whether it was the principal's last.
 * - every frame goes to RealtimeGateway.handleFrame, the code the local `ws` server runs, with the
 *   stored principal and subscriptions; its ConnectionSession writes what changed to the store.
 *   The reply is the route response, unless work must follow it (a replay, a close): then the
 *   reply is pushed first, so that nothing of a subscription arrives before its `subscribed`.
 *
 * A subscription is stored with `live_after` = the stream head read before it was stored: the
 * subscribe replays up to there, broadcasts (any function's fan-out) send what follows, and no
 * entry goes both ways. An entry committed while the subscription reaches DynamoDB's index may
 * miss the broadcast, and a broadcast may overtake the replay's last messages; the gap-free seq
 * lets the client see either and resubscribe from the seq it has.
 */
export class StoredConnections {
  constructor(
    private readonly parts: StoredConnectionsParts,
    private readonly limits: StoredConnectionsLimits,
  ) {}

  /** Only a bad credential is refused; any other failure (an outage) is thrown, not called a bad credential. */
  async connect(connectionId: string, token: string, connectedAt?: Date): Promise<ConnectOutcome> {
    let principal: Principal;
    try {
      principal = await this.parts.resolver.resolve(token);
    } catch (error) {
      if (error instanceof DomainError && error.code === ErrorCode.Unauthenticated) {
        return { accepted: false, status: 401, reason: error.message };
      }
      throw error;
    }
    if (await this.overCap(connectionId, principal)) {
      return { accepted: false, status: 429, reason: 'this principal holds as many connections as the hub allows' };
    }
    await this.parts.store.put(this.record(connectionId, principal, connectedAt));
    await this.quietly('connected', () => this.parts.presence.connected(principal));
    return { accepted: true };
  }

  async disconnect(connectionId: string): Promise<void> {
    const stored = await this.parts.store.get(connectionId);
    await this.parts.store.delete(connectionId);
    if (!stored) {
      return;
    }
    const others = (await this.parts.store.listByPrincipal(stored.principal)).filter((id) => id !== connectionId);
    const state: ConnectionState = {
      connectionId,
      principal: stored.principal,
      subscriptions: stored.subscriptions ?? [],
    };
    await this.parts.gateway.closed(state, others.length === 0);
  }

  /** The reply to one text frame, or null when it was pushed already (work followed it). */
  async frame(connectionId: string, raw: string, connectedAt?: Date): Promise<ServerMessage | null> {
    const stored = await this.parts.store.get(connectionId);
    // A connection whose row has gone (expired, or lost) may still ping, and a hello re-authenticates it.
    const state: ConnectionState = {
      connectionId,
      principal: stored?.principal ?? null,
      subscriptions: stored?.subscriptions ?? [],
    };
    const afterReply: Array<() => Promise<void>> = [];
    const session: ConnectionSession = {
      connectionId,
      opened: async (principal) => {
        const same = stored && stored.principal.type === principal.type && stored.principal.id === principal.id;
        if (!same && (await this.overCap(connectionId, principal))) {
          return 'over_cap';
        }
        await this.parts.store.put({
          ...(stored ?? this.record(connectionId, principal, connectedAt)),
          principal,
          agent_ids: agentIds(principal),
          subscriptions: state.subscriptions,
          last_seen: this.parts.clock.now().toISOString(),
        });
        return 'opened';
      },
      subscribe: async (subscription, fromSeq) => {
        const head = await this.parts.stream.head(subscription.agent_id);
        if (!(await this.parts.store.putSubscription(connectionId, subscription, head))) {
          return; // the connection has gone
        }
        const principal = state.principal;
        if (principal && fromSeq !== null && fromSeq <= head) {
          afterReply.push(() => this.replay(connectionId, principal, subscription, fromSeq, head));
        }
      },
      unsubscribe: (agentId) => this.parts.store.deleteSubscription(connectionId, agentId),
      // The record's expiry is API Gateway's two-hour limit, so nothing needs refreshing; the
      // gateway records the sign of life in presence.
      seen: () => Promise.resolve(),
      close: (code, reason) => {
        afterReply.push(() => this.parts.push.close(connectionId, code, reason));
      },
      later: (work) => {
        afterReply.push(work);
      },
    };
    const reply = await this.parts.gateway.handleFrame(state, raw, session);
    if (afterReply.length === 0) {
      return reply;
    }
    if ((await this.parts.push.send(connectionId, reply)) === 'gone') {
      return null;
    }
    for (const work of afterReply) {
      await work();
    }
    return null;
  }

  /**
   * Sends the entries from `fromSeq` to `head` the subscriber hears, in seq order; past
   * `maxReplay` messages, `resync_required` instead, and the subscription ends (as the contract
   * says: nothing after its last_seq is sent).
   */
  private async replay(
    connectionId: string,
    principal: Principal,
    subscription: StoredSubscription,
    fromSeq: number,
    head: number,
  ): Promise<void> {
    const { push, stream, store } = this.parts;
    const filter = {
      topics: subscription.topics,
      ...(subscription.space_id ? { spaceId: subscription.space_id } : {}),
    };
    let next = fromSeq;
    let sent = 0;
    while (next <= head) {
      const page = await stream.read(subscription.agent_id, next, filter, STREAM_READ_LIMIT);
      for (const entry of page) {
        if (entry.seq > head) {
          return;
        }
        if (hears(principal, subscription, entry)) {
          if (sent === this.limits.maxReplay) {
            await store.deleteSubscription(connectionId, subscription.agent_id);
            await push.send(connectionId, {
              type: 'resync_required',
              agent_id: subscription.agent_id,
              // Nothing from this entry on was sent; what lies before it is sent or not for this subscription.
              last_seq: entry.seq - 1,
            });
            return;
          }
          if ((await push.send(connectionId, { type: 'stream', ...entry })) === 'gone') {
            return;
          }
          sent += 1;
        }
        next = entry.seq + 1;
      }
      if (page.length < STREAM_READ_LIMIT) {
        return;
      }
    }
  }

  private async overCap(connectionId: string, principal: Principal): Promise<boolean> {
    const held = (await this.parts.store.listByPrincipal(principal)).filter((id) => id !== connectionId);
    return held.length >= this.limits.maxConnectionsPerPrincipal;
  }

  /** Presence is a side effect of connecting: its failure is logged, never the client's error. */
  private async quietly(what: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (caught) {
      this.parts.logger.warn(`presence (${what}) failed: ${String(caught)}`);
    }
  }

  private record(connectionId: string, principal: Principal, connectedAt = this.parts.clock.now()): StoredConnection {
    return {
      connection_id: connectionId,
      principal,
      agent_ids: agentIds(principal),
      connected_at: connectedAt.toISOString(),
      last_seen: this.parts.clock.now().toISOString(),
      expires_at: epochSeconds(connectedAt) + this.limits.ttlSeconds,
    };
  }
}

function agentIds(principal: Principal): string[] {
  return principal.agents.map((agent) => agent.agent_id);
}
