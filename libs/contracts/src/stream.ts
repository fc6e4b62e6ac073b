import type { Scope } from './scopes';

/** The topics a subscriber can hear on an agent's stream (spec 002 Phase 5). */
export const STREAM_TOPICS = [
  'events.new',
  'actions.updated',
  'memories.new',
  'presence.updated',
  'commands.updated',
] as const;
export type StreamTopic = (typeof STREAM_TOPICS)[number];

/** The scope a subscriber needs on the agent to hear a topic (the same as the topic's REST read). */
export const TOPIC_SCOPES: Readonly<Record<StreamTopic, Scope>> = {
  'events.new': 'events:read',
  'actions.updated': 'actions:read',
  'memories.new': 'memories:read',
  'presence.updated': 'spaces:read',
  'commands.updated': 'devices:command',
};

/**
 * One committed change on an agent's stream. `seq` is gap-free per agent and starts at 1;
 * `space_id` is the space the change belongs to (null for agent-wide changes).
 */
export interface StreamEntry {
  seq: number;
  agent_id: string;
  topic: StreamTopic;
  space_id: string | null;
  /** The changed thing as its REST view shows it (an event, action, memory, presence row or device command). */
  data: Record<string, unknown>;
  /** ISO 8601 instant the change committed (the transaction's time). */
  at: string;
}

/** The protocol version `hello_ok` states; a client that does not know it should not go on. */
export const PROTOCOL_VERSION = 1;

/** How often a connected client must send `heartbeat` (devices) or `ping` (anyone) to stay online. */
export const HEARTBEAT_INTERVAL_SECONDS = 30;

/** A subject is `offline` once this many heartbeat intervals pass without a sign of it. */
export const PRESENCE_MISSED_HEARTBEATS = 3;

export const PRESENCE_STATUSES = ['online', 'away', 'offline'] as const;
export type PresenceStatus = (typeof PRESENCE_STATUSES)[number];

/** Where a user, device or agent is: one row per (agent, space or none, subject). */
export interface PresenceView {
  agent_id: string;
  /** null: connected to the agent but in no particular space. */
  space_id: string | null;
  subject_type: 'user' | 'device' | 'agent';
  subject_id: string;
  status: PresenceStatus;
  last_seen: string;
}
