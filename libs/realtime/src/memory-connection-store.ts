import type { Principal } from '@marvain/contracts';
import type { Clock } from '@marvain/platform';
import {
  isLive,
  principalKey,
  type ConnectionStore,
  type StoredConnection,
  type StoredSubscription,
  type Subscriber,
} from './connection-store';

interface Entry {
  connection: Omit<StoredConnection, 'subscriptions'>;
  /** By agent id, with its live_after. */
  subscriptions: Map<string, { subscription: StoredSubscription; liveAfter: number }>;
}

/**
 * The local runtime's connection store: Maps in the hub process (connections end with the
 * process anyway). Expired entries are filtered on read and dropped when seen, as TTL would.
 * Two indexes, kept with every write, answer an agent's subscribers and a principal's connections
 * without visiting every connection, as the DynamoDB twin's indexes do.
 */
export class MemoryConnectionStore implements ConnectionStore {
  private readonly connections = new Map<string, Entry>();
  /** agent id → ids of connections subscribed to it. */
  private readonly subscribers = new Map<string, Set<string>>();
  /** principalKey → ids of its connections. */
  private readonly byPrincipal = new Map<string, Set<string>>();

  constructor(private readonly clock: Clock) {}

  put(connection: StoredConnection): Promise<void> {
    this.remove(connection.connection_id);
    const { subscriptions = [], ...rest } = structuredClone(connection);
    this.connections.set(connection.connection_id, {
      connection: rest,
      subscriptions: new Map(subscriptions.map((s) => [s.agent_id, { subscription: s, liveAfter: 0 }])),
    });
    addTo(this.byPrincipal, principalKey(rest.principal), connection.connection_id);
    for (const subscription of subscriptions) {
      addTo(this.subscribers, subscription.agent_id, connection.connection_id);
    }
    return Promise.resolve();
  }

  get(connectionId: string): Promise<StoredConnection | null> {
    const entry = this.live(connectionId);
    return Promise.resolve(
      entry
        ? structuredClone({
            ...entry.connection,
            subscriptions: [...entry.subscriptions.values()].map((s) => s.subscription),
          })
        : null,
    );
  }

  delete(connectionId: string): Promise<void> {
    this.remove(connectionId);
    return Promise.resolve();
  }

  touch(connectionId: string, expiresAt: number): Promise<boolean> {
    const entry = this.live(connectionId);
    if (entry) {
      entry.connection.expires_at = expiresAt;
    }
    return Promise.resolve(entry !== null);
  }

  putSubscription(connectionId: string, subscription: StoredSubscription, liveAfter: number): Promise<boolean> {
    const entry = this.live(connectionId);
    if (entry) {
      entry.subscriptions.set(subscription.agent_id, { subscription: structuredClone(subscription), liveAfter });
      addTo(this.subscribers, subscription.agent_id, connectionId);
    }
    return Promise.resolve(entry !== null);
  }

  deleteSubscription(connectionId: string, agentId: string): Promise<void> {
    this.connections.get(connectionId)?.subscriptions.delete(agentId);
    removeFrom(this.subscribers, agentId, connectionId);
    return Promise.resolve();
  }

  listSubscribers(agentId: string): Promise<Subscriber[]> {
    const found: Subscriber[] = [];
    for (const connectionId of [...(this.subscribers.get(agentId) ?? [])]) {
      const entry = this.live(connectionId);
      const held = entry?.subscriptions.get(agentId);
      if (entry && held) {
        found.push(
          structuredClone({
            connection_id: connectionId,
            principal: entry.connection.principal,
            subscription: held.subscription,
            live_after: held.liveAfter,
            expires_at: entry.connection.expires_at,
          }),
        );
      }
    }
    return Promise.resolve(found);
  }

  listByPrincipal(principal: Pick<Principal, 'type' | 'id'>): Promise<string[]> {
    const ids = [...(this.byPrincipal.get(principalKey(principal)) ?? [])];
    return Promise.resolve(ids.filter((id) => this.live(id) !== null));
  }

  private live(connectionId: string): Entry | null {
    const entry = this.connections.get(connectionId);
    if (!entry) {
      return null;
    }
    if (isLive(entry.connection, this.clock.now())) {
      return entry;
    }
    this.remove(connectionId);
    return null;
  }

  private remove(connectionId: string): void {
    const entry = this.connections.get(connectionId);
    if (!entry) {
      return;
    }
    this.connections.delete(connectionId);
    removeFrom(this.byPrincipal, principalKey(entry.connection.principal), connectionId);
    for (const agentId of entry.subscriptions.keys()) {
      removeFrom(this.subscribers, agentId, connectionId);
    }
  }
}

function addTo(index: Map<string, Set<string>>, key: string, connectionId: string): void {
  const ids = index.get(key) ?? new Set<string>();
  ids.add(connectionId);
  index.set(key, ids);
}

// An emptied set is dropped, so the indexes hold nothing for agents or principals no longer connected.
function removeFrom(index: Map<string, Set<string>>, key: string, connectionId: string): void {
  const ids = index.get(key);
  ids?.delete(connectionId);
  if (ids?.size === 0) {
    index.delete(key);
  }
}
