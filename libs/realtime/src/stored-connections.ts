import { DomainError, ErrorCode, type Principal, type ServerMessage } from '@marvain/contracts';
import type { PrincipalResolver } from '@marvain/identity';
import type { Clock } from '@marvain/platform';
import { epochSeconds, type ConnectionStore, type StoredConnection } from './connection-store';
import type { ConnectionState, RealtimeGateway } from './realtime.gateway';
import type { ConnectionSession } from './connection-session';

/** Whether a connection request was accepted; `reason` says why not. */
export type ConnectOutcome = { accepted: true } | { accepted: false; reason: string };

/**
 * The WebSocket protocol for a transport that keeps no connection in memory between frames (API
 * Gateway invokes a function per event): each connection's principal lives in the ConnectionStore.
 * - connect authenticates the token the connection request carried and stores the connection.
 * - disconnect deletes it.
 * - every frame goes to RealtimeGateway.handleFrame, the code the local `ws` server runs, with the
 *   stored principal; a principal change (hello) is stored.
 */
export class StoredConnections {
  /** `ttlSeconds`: how long after opening a stored connection expires (the transport's longest connection). */
  constructor(
    private readonly gateway: RealtimeGateway,
    private readonly resolver: PrincipalResolver,
    private readonly store: ConnectionStore,
    private readonly clock: Clock,
    private readonly ttlSeconds: number,
  ) {}

  /** Only a bad credential is refused; any other failure (an outage) is thrown, not called a bad credential. */
  async connect(connectionId: string, token: string, connectedAt?: Date): Promise<ConnectOutcome> {
    let principal: Principal;
    try {
      principal = await this.resolver.resolve(token);
    } catch (error) {
      if (error instanceof DomainError && error.code === ErrorCode.Unauthenticated) {
        return { accepted: false, reason: error.message };
      }
      throw error;
    }
    await this.store.put(this.record(connectionId, principal, connectedAt));
    return { accepted: true };
  }

  disconnect(connectionId: string): Promise<void> {
    return this.store.delete(connectionId);
  }

  /**
   * The reply to one text frame. The session stores what the gateway changed (principal,
   * subscriptions, last_seen).
   * TODO(AWS transport): the per-principal cap, the replay after `subscribed` and `close` (the
   * API Gateway Management API's DeleteConnection) are not done here yet.
   */
  async frame(connectionId: string, raw: string, connectedAt?: Date): Promise<ServerMessage> {
    const stored = await this.store.get(connectionId);
    // A connection whose row has gone (expired, or lost) may still ping, and a hello re-authenticates it.
    const state: ConnectionState = {
      connectionId,
      principal: stored?.principal ?? null,
      subscriptions: stored?.subscriptions ?? [],
    };
    const save = async (): Promise<void> => {
      const current = (await this.store.get(connectionId)) ?? stored;
      if (!state.principal) {
        return;
      }
      await this.store.put({
        ...(current ?? this.record(connectionId, state.principal, connectedAt)),
        principal: state.principal,
        agent_ids: agentIds(state.principal),
        subscriptions: state.subscriptions,
        last_seen: this.clock.now().toISOString(),
      });
    };
    const session: ConnectionSession = {
      connectionId,
      opened: async (principal) => {
        state.principal = principal;
        await save();
        return 'opened';
      },
      subscribe: () => save(),
      unsubscribe: () => save(),
      seen: () => save(),
      close: () => undefined,
    };
    return this.gateway.handleFrame(state, raw, session);
  }

  private record(connectionId: string, principal: Principal, connectedAt = this.clock.now()): StoredConnection {
    return {
      connection_id: connectionId,
      principal,
      agent_ids: agentIds(principal),
      connected_at: connectedAt.toISOString(),
      expires_at: epochSeconds(connectedAt) + this.ttlSeconds,
    };
  }
}

function agentIds(principal: Principal): string[] {
  return principal.agents.map((agent) => agent.agent_id);
}
