import type { Clock } from '@marvain/platform';
import { isLive, type ConnectionStore, type StoredConnection } from './connection-store';

/**
 * The local runtime's connection store: a Map in the hub process (connections end with the
 * process anyway). Expired entries are filtered on read and dropped when seen, as TTL would.
 */
export class MemoryConnectionStore implements ConnectionStore {
  private readonly connections = new Map<string, StoredConnection>();

  constructor(private readonly clock: Clock) {}

  put(connection: StoredConnection): Promise<void> {
    this.connections.set(connection.connection_id, structuredClone(connection));
    return Promise.resolve();
  }

  get(connectionId: string): Promise<StoredConnection | null> {
    const connection = this.live(connectionId);
    return Promise.resolve(connection ? structuredClone(connection) : null);
  }

  delete(connectionId: string): Promise<void> {
    this.connections.delete(connectionId);
    return Promise.resolve();
  }

  touch(connectionId: string, expiresAt: number): Promise<boolean> {
    const connection = this.live(connectionId);
    if (connection) {
      connection.expires_at = expiresAt;
    }
    return Promise.resolve(connection !== null);
  }

  listByAgent(agentId: string): Promise<StoredConnection[]> {
    const now = this.clock.now();
    const found: StoredConnection[] = [];
    for (const [id, connection] of this.connections) {
      if (!isLive(connection, now)) {
        this.connections.delete(id);
      } else if (connection.agent_ids.includes(agentId)) {
        found.push(structuredClone(connection));
      }
    }
    return Promise.resolve(found);
  }

  private live(connectionId: string): StoredConnection | null {
    const connection = this.connections.get(connectionId);
    if (!connection) {
      return null;
    }
    if (isLive(connection, this.clock.now())) {
      return connection;
    }
    this.connections.delete(connectionId);
    return null;
  }
}
