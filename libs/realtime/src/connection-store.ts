import type { Principal, StreamTopic } from '@marvain/contracts';

/** What a connection asked to hear on one agent's stream (one per agent per connection). */
export interface StoredSubscription {
  agent_id: string;
  /** When set, only entries of this space. */
  space_id: string | null;
  topics: StreamTopic[];
}

/**
 * One open WebSocket connection: who it authenticated as and which agents it may hear about.
 * Stored as is (a DynamoDB item on AWS, a Map entry locally); field names are the table attribute names.
 */
export interface StoredConnection {
  connection_id: string;
  /** The principal resolved at hello/$connect, as it was then (scopes are a snapshot). */
  principal: Principal;
  /** The agents this connection receives broadcasts for (a subset of the principal's agents). */
  agent_ids: string[];
  /** What the connection subscribed to, one per agent; absent (none) when put before it subscribed. */
  subscriptions?: StoredSubscription[];
  /** ISO 8601 instant the connection was stored. */
  connected_at: string;
  /** ISO 8601 instant of the connection's last sign of life (hello, ping, heartbeat); absent on older rows. */
  last_seen?: string;
  /** Epoch seconds after which the connection counts as gone (the DynamoDB TTL attribute). */
  expires_at: number;
}

/** One connection's subscription to an agent, as fan-out reads it: with who subscribed, as then. */
export interface Subscriber {
  connection_id: string;
  principal: Principal;
  subscription: StoredSubscription;
  /**
   * Broadcasts of entries up to this seq are not for it: the subscribe that made it replays them
   * from the stream (0 when nothing is replayed).
   */
  live_after: number;
  expires_at: number;
}

/**
 * Who is connected, as whom, hearing what. Expiry works like DynamoDB TTL: an expired row may
 * still be stored for a while, so every read filters it out; `touch` extends a live connection's
 * expiry. Subscriptions are stored one per (connection, agent) so that fan-out finds an agent's
 * subscribers without reading every connection, and two subscribes on one connection handled at
 * once (API Gateway may run them in parallel) cannot overwrite each other.
 */
export interface ConnectionStore {
  /**
   * Stores the connection; its `subscriptions` (none when absent) replace any stored for it, each
   * live from its next broadcast (`live_after` 0).
   */
  put(connection: StoredConnection): Promise<void>;
  /** The connection with its subscriptions, or null when it was never stored, was deleted, or has expired. */
  get(connectionId: string): Promise<StoredConnection | null>;
  /** The connection and its subscriptions. */
  delete(connectionId: string): Promise<void>;
  /** Moves a live connection's expiry; false (and nothing written) when it is missing or expired. */
  touch(connectionId: string, expiresAt: number): Promise<boolean>;
  /**
   * Adds the subscription, replacing the connection's earlier one to the same agent; false (and
   * nothing written) when the connection is missing or expired. `liveAfter`: see Subscriber.
   */
  putSubscription(connectionId: string, subscription: StoredSubscription, liveAfter: number): Promise<boolean>;
  /** Ends the connection's subscription to the agent; harmless when there is none. */
  deleteSubscription(connectionId: string, agentId: string): Promise<void>;
  /** Live subscriptions to an agent, for broadcast. */
  listSubscribers(agentId: string): Promise<Subscriber[]>;
  /** Ids of the principal's live connections (to tell its last one, and to close them on revocation). */
  listByPrincipal(principal: Pick<Principal, 'type' | 'id'>): Promise<string[]>;
}
export const CONNECTION_STORE = Symbol('ConnectionStore');

/** Whether a stored connection is still live at `now` (expires_at is exclusive, like TTL). */
export function isLive(connection: Pick<StoredConnection, 'expires_at'>, now: Date): boolean {
  return connection.expires_at > Math.floor(now.getTime() / 1000);
}

/** The current instant in epoch seconds, as expires_at counts. */
export function epochSeconds(now: Date): number {
  return Math.floor(now.getTime() / 1000);
}

/** How both stores key a principal's connections: `device#<id>`, `user#<id>`, `agent#<id>`. */
export function principalKey(principal: Pick<Principal, 'type' | 'id'>): string {
  return `${principal.type}#${principal.id}`;
}
