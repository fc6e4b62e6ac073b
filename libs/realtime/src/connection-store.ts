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
  /** What the connection subscribed to; absent on rows stored before it subscribed. */
  subscriptions?: StoredSubscription[];
  /** ISO 8601 instant the connection was stored. */
  connected_at: string;
  /** ISO 8601 instant of the connection's last sign of life (hello, ping, heartbeat); absent on older rows. */
  last_seen?: string;
  /** Epoch seconds after which the connection counts as gone (the DynamoDB TTL attribute). */
  expires_at: number;
}

/**
 * Who is connected, as whom. Expiry works like DynamoDB TTL: an expired row may still be stored
 * for a while, so every read filters it out; `touch` extends a live connection's expiry.
 */
export interface ConnectionStore {
  put(connection: StoredConnection): Promise<void>;
  /** The connection, or null when it was never stored, was deleted, or has expired. */
  get(connectionId: string): Promise<StoredConnection | null>;
  delete(connectionId: string): Promise<void>;
  /** Moves a live connection's expiry; false (and nothing written) when it is missing or expired. */
  touch(connectionId: string, expiresAt: number): Promise<boolean>;
  /** Live connections subscribed to an agent, for broadcast. */
  listByAgent(agentId: string): Promise<StoredConnection[]>;
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
