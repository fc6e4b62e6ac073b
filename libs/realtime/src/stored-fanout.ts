import type { StreamEntry } from '@marvain/contracts';
import type { HubLogger } from '@marvain/platform';
import type { StreamPublisher } from '@marvain/streams';
import type { ConnectionPush } from './connection-push';
import type { ConnectionStore } from './connection-store';
import { hears } from './subscriptions';

/**
 * The AWS runtime's publisher: the function that committed a change sends it to every connection
 * subscribed to the agent (found in the ConnectionStore) through the ConnectionPush (API Gateway's
 * PostToConnection). A gone connection is dropped by the push; the rest still get theirs. Nothing
 * is lost by a failed send: a client that reconnects resumes from the stream table.
 */
export class StoredFanout implements StreamPublisher {
  constructor(
    private readonly store: ConnectionStore,
    private readonly push: ConnectionPush,
    private readonly logger: HubLogger,
  ) {}

  async publish(entries: readonly StreamEntry[]): Promise<void> {
    const byAgent = new Map<string, StreamEntry[]>();
    for (const entry of entries) {
      byAgent.set(entry.agent_id, [...(byAgent.get(entry.agent_id) ?? []), entry]);
    }
    for (const [agentId, agentEntries] of byAgent) {
      const connections = await this.store.listByAgent(agentId);
      await Promise.all(
        connections.map(async (connection) => {
          const subscription = connection.subscriptions?.find((s) => s.agent_id === agentId);
          if (!subscription) {
            return;
          }
          for (const entry of agentEntries) {
            if (!hears(connection.principal, subscription, entry)) {
              continue;
            }
            try {
              if ((await this.push.send(connection.connection_id, { type: 'stream', ...entry })) === 'gone') {
                return;
              }
            } catch (error) {
              this.logger.warn(`could not send seq ${entry.seq} to ${connection.connection_id}: ${String(error)}`);
              return;
            }
          }
        }),
      );
    }
  }
}
