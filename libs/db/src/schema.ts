import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

/** jsonb columns: written as JSON text with an explicit cast, read back parsed. */
type Json<T> = ColumnType<T, string | T, string | T>;
/** jsonb columns with a database default. */
type JsonWithDefault<T> = ColumnType<T, string | T | undefined, string | T>;
/** timestamptz columns read as Date (UTC instants), written as Date or ISO text. */
type Timestamp = ColumnType<Date, Date | string, Date | string>;
type DefaultTimestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export interface SchemaMigrationsTable {
  version: string;
  name: string;
  checksum: string;
  applied_at: DefaultTimestamp;
}

export interface AgentsTable {
  agent_id: string;
  name: string;
  kind: string;
  disabled: Generated<boolean>;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
}

export interface UsersTable {
  user_id: string;
  subject: string;
  email: string | null;
  display_name: string | null;
  last_seen: Timestamp | null;
  created_at: DefaultTimestamp;
  /** Raised to revoke every local token issued before (they carry the version they were issued at). */
  token_version: Generated<number>;
}

export interface AgentMembershipsTable {
  membership_id: string;
  agent_id: string;
  user_id: string;
  role: string;
  created_at: DefaultTimestamp;
  revoked_at: Timestamp | null;
}

export interface SpacesTable {
  space_id: string;
  agent_id: string;
  name: string;
  privacy_mode: Generated<boolean>;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
}

export interface DevicesTable {
  device_id: string;
  agent_id: string;
  name: string;
  token_hash: string;
  scopes: JsonWithDefault<string[]>;
  capabilities: JsonWithDefault<Record<string, unknown>>;
  metadata: JsonWithDefault<Record<string, unknown>>;
  created_at: DefaultTimestamp;
  revoked_at: Timestamp | null;
  last_hello_at: Timestamp | null;
  last_heartbeat_at: Timestamp | null;
}

export interface PeopleTable {
  person_id: string;
  agent_id: string;
  display_name: string;
  created_at: DefaultTimestamp;
}

export interface ConsentGrantsTable {
  consent_id: string;
  agent_id: string;
  person_id: string;
  consent_type: string;
  granted_at: DefaultTimestamp;
  expires_at: Timestamp | null;
  revoked_at: Timestamp | null;
}

export interface PresenceTable {
  agent_id: string;
  /** null: present for the agent, in no particular space. */
  space_id: string | null;
  subject_type: string;
  subject_id: string;
  status: string;
  last_seen: DefaultTimestamp;
  /** true while a LiveKit room holds the row (joined, not yet left): the sweep and a WebSocket disconnect spare it. */
  in_room: Generated<boolean>;
}

export interface EventsTable {
  event_id: string;
  seq: Generated<string>;
  agent_id: string;
  space_id: string;
  source_type: string;
  source_id: string;
  type: string;
  payload: Json<Record<string, unknown>>;
  client_event_id: string | null;
  created_at: DefaultTimestamp;
}

export interface MemoriesTable {
  memory_id: string;
  agent_id: string;
  space_id: string | null;
  tier: string;
  content: string;
  source_event_id: string | null;
  provenance: JsonWithDefault<Record<string, unknown>>;
  created_at: DefaultTimestamp;
  /** Only present where the vector extension is; never in a default select list. */
  embedding?: string | null;
}

export interface ActionsTable {
  action_id: string;
  agent_id: string;
  space_id: string | null;
  kind: string;
  payload: Json<Record<string, unknown>>;
  required_scopes: JsonWithDefault<string[]>;
  status: string;
  reason: string | null;
  source_event_id: string | null;
  approved_by: string | null;
  approved_at: Timestamp | null;
  rejected_by: string | null;
  rejected_at: Timestamp | null;
  result: Json<Record<string, unknown>> | null;
  error: string | null;
  completed_at: Timestamp | null;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
}

export interface AuditStateTable {
  chain_id: string;
  agent_id: string | null;
  last_seq: string;
  head_hash: string;
  updated_at: DefaultTimestamp;
}

/** One row: this database's random identity, which its audit folder or bucket records. */
export interface DatabaseIdentityTable {
  singleton: Generated<boolean>;
  database_id: Generated<string>;
  created_at: DefaultTimestamp;
}

export interface AuditEntriesTable {
  chain_id: string;
  seq: string;
  agent_id: string | null;
  body: string;
  hash: string;
  created_at: DefaultTimestamp;
  sunk_at: Timestamp | null;
}

export interface QueueMessagesTable {
  message_id: Generated<string>;
  queue: string;
  body: Json<Record<string, unknown>>;
  dedup_key: string | null;
  state: Generated<string>;
  visible_at: DefaultTimestamp;
  receive_count: Generated<number>;
  receipt: string | null;
  /** The receiving process's QueueReceiver tag while a receive holds it (migration 0007). */
  received_by: Generated<string | null>;
  last_error: string | null;
  created_at: DefaultTimestamp;
  dead_at: Timestamp | null;
}

export interface PlannerRunsTable {
  run_id: string;
  event_id: string;
  agent_id: string;
  model: string;
  status: string;
  output: Json<Record<string, unknown>> | null;
  error: string | null;
  created_at: DefaultTimestamp;
}

export interface AgentCredentialsTable {
  credential_id: string;
  agent_id: string;
  alg: string;
  public_key: Json<Record<string, unknown>>;
  created_by: string | null;
  created_at: DefaultTimestamp;
  revoked_at: Timestamp | null;
}

export interface AgentAssertionJtisTable {
  agent_id: string;
  jti: string;
  expires_at: Timestamp;
}

/** The last seq handed out on each agent's stream (migration 0009). */
export interface AgentStreamHeadsTable {
  agent_id: string;
  last_seq: string;
}

/** One committed broadcastable change; `seq` is gap-free per agent. */
export interface AgentStreamTable {
  agent_id: string;
  seq: string;
  topic: string;
  space_id: string | null;
  data: Json<Record<string, unknown>>;
  created_at: DefaultTimestamp;
}

export interface DeviceCommandsTable {
  command_id: string;
  agent_id: string;
  device_id: string;
  kind: string;
  args: Json<Record<string, unknown>>;
  status: string;
  action_id: string | null;
  requested_by: string;
  created_at: DefaultTimestamp;
  sent_at: Timestamp | null;
  completed_at: Timestamp | null;
  expires_at: Timestamp;
  result: Json<Record<string, unknown>> | null;
  error: Json<{ code: string; message: string }> | null;
}

export interface Database {
  schema_migrations: SchemaMigrationsTable;
  agents: AgentsTable;
  users: UsersTable;
  agent_memberships: AgentMembershipsTable;
  spaces: SpacesTable;
  devices: DevicesTable;
  people: PeopleTable;
  consent_grants: ConsentGrantsTable;
  presence: PresenceTable;
  events: EventsTable;
  memories: MemoriesTable;
  actions: ActionsTable;
  audit_state: AuditStateTable;
  audit_entries: AuditEntriesTable;
  queue_messages: QueueMessagesTable;
  planner_runs: PlannerRunsTable;
  agent_credentials: AgentCredentialsTable;
  agent_assertion_jtis: AgentAssertionJtisTable;
  database_identity: DatabaseIdentityTable;
  agent_stream_heads: AgentStreamHeadsTable;
  agent_stream: AgentStreamTable;
  device_commands: DeviceCommandsTable;
}

export type AgentRow = Selectable<AgentsTable>;
export type UserRow = Selectable<UsersTable>;
export type SpaceRow = Selectable<SpacesTable>;
export type DeviceRow = Selectable<DevicesTable>;
export type EventRow = Selectable<EventsTable>;
export type MemoryRow = Omit<Selectable<MemoriesTable>, 'embedding'>;
export type ActionRow = Selectable<ActionsTable>;
export type DeviceCommandRow = Selectable<DeviceCommandsTable>;
export type NewAction = Insertable<ActionsTable>;
export type ActionUpdate = Updateable<ActionsTable>;
export type QueueMessageRow = Selectable<QueueMessagesTable>;
export type AgentCredentialRow = Selectable<AgentCredentialsTable>;
