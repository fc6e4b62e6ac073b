import { hasScope, scopesFor, TOPIC_SCOPES, type Principal, type StreamEntry } from '@marvain/contracts';
import type { StoredSubscription } from './connection-store';

/**
 * Whether a subscriber hears an entry: the subscription names the entry's agent and topic (and
 * space, when it names one), and the principal holds the topic's read scope on that agent. The
 * one rule both runtimes' deliveries (local sockets and SSE, AWS fan-out) apply.
 */
export function hears(principal: Principal, subscription: StoredSubscription, entry: StreamEntry): boolean {
  return (
    subscription.agent_id === entry.agent_id &&
    subscription.topics.includes(entry.topic) &&
    (subscription.space_id === null || subscription.space_id === entry.space_id) &&
    hasScope(scopesFor(principal, entry.agent_id), TOPIC_SCOPES[entry.topic])
  );
}
