import type { StreamEntry } from '@marvain/contracts';
import type { HubLogger } from '@marvain/platform';
import type { StreamPublisher } from '@marvain/streams';
import type { ConnectionPush } from './connection-push';
import type { ConnectionStore } from './connection-store';
import { hears } from './subscriptions';

/**
 * The AWS runtime's publisher: the function that committed a change sends it to every connection
 * subscribed to the agent (the ConnectionStore's subscribers index) through the ConnectionPush (API Gateway's
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
      const subscribers = await this.store.listSubscribers(agentId);
      await Promise.all(
        subscribers.map(async ({ connection_id: connectionId, principal, subscription, live_after }) => {
          for (const entry of agentEntries) {
            // Up to live_after, the subscribe that made the subscription sends the entry (replay).
            if (entry.seq <= live_after || !hears(principal, subscription, entry)) {
              continue;
            }
            try {
              if ((await this.push.send(connectionId, { type: 'stream', ...entry })) === 'gone') {
                return;
              }
            } catch (error) {
              // The rest of this batch would arrive with a gap; the client resumes from the stream.
              this.logger.warn(`could not send seq ${entry.seq} to ${connectionId}: ${String(error)}`);
              return;
            }
          }
        }),
      );
    }
  }
}
