import type { PrincipalType } from '@marvain/contracts';

/** What a caller asks to record. */
export interface AuditRecord {
  /** The agent whose chain the entry joins; null for hub-wide events (schema changes). */
  agentId: string | null;
  action: string;
  actor: { type: PrincipalType | 'system'; id: string };
  subject?: { type: string; id: string };
  details?: Record<string, unknown>;
}

/** One link of the chain, exactly as stored (canonical JSON of all fields). */
export interface AuditEntry {
  chain_id: string;
  seq: number;
  prev_hash: string;
  ts: string;
  agent_id: string | null;
  action: string;
  actor: { type: string; id: string };
  subject?: { type: string; id: string };
  details?: Record<string, unknown>;
  hash: string;
}

export interface AuditVerification {
  ok: boolean;
  chain_id: string;
  entries: number;
  head: { seq: number; hash: string } | null;
  /** The first sequence number that does not verify, when ok is false. */
  first_bad_seq?: number;
  reason?: string;
}

export const SYSTEM_CHAIN = 'system';
export const GENESIS_HASH = '0'.repeat(64);
