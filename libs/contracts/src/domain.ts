export const ACTION_STATUSES = [
  'proposed',
  'approved',
  'rejected',
  'executing',
  'executed',
  'failed',
  'canceled',
] as const;
export type ActionStatus = (typeof ACTION_STATUSES)[number];

export const MEMORY_TIERS = ['episodic', 'semantic'] as const;
export type MemoryTier = (typeof MEMORY_TIERS)[number];

export const PRINCIPAL_TYPES = ['user', 'device', 'agent'] as const;
export type PrincipalType = (typeof PRINCIPAL_TYPES)[number];

export const AGENT_KINDS = ['self', 'llm', 'software', 'service'] as const;
export type AgentKind = (typeof AGENT_KINDS)[number];

/** Event types the hub gives meaning to; other types are stored as they come. */
export const EventTypes = {
  TranscriptChunk: 'transcript_chunk',
  Transcript: 'transcript',
  MessageOutbound: 'message.outbound',
} as const;

/** Event types whose payload carries speech text and that the planner reads. */
export const TRANSCRIPT_EVENT_TYPES: readonly string[] = [EventTypes.TranscriptChunk, EventTypes.Transcript];

/** Queues between the hub and its workers. */
export const QueueNames = {
  Transcripts: 'transcripts',
  Actions: 'actions',
} as const;
export type QueueName = (typeof QueueNames)[keyof typeof QueueNames];

/** What the ingest path puts on the transcript queue: a reference, never the payload. */
export interface EventReference {
  event_id: string;
  agent_id: string;
}

/** What approval puts on the action queue. */
export interface ActionReference {
  action_id: string;
  agent_id: string;
}
